"""Demo dataset generator: synthetic faces, voices and Kinect skeletons, challenge layout.

>>> from emo.synth import synthesise  # doctest: +SKIP
>>> synthesise("demo", actors=6, takes=3)  # doctest: +SKIP
"""

from emo.synth.generate import synthesise

__all__ = ["synthesise"]
