"""Body modality (placeholder while being written)."""
