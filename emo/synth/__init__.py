"""Demo dataset generator: synthetic faces, voices and Kinect skeletons, challenge layout.

Example::

    from emo.synth import synthesise
    synthesise("demo", actors=6, takes=3, seed=0)
"""

from emo.synth.generate import synthesise

__all__ = ["synthesise"]
