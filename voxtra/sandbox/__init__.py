"""The lab: what stands in for the field when a call is placed on one machine.

A real Asterisk in a root file system of Debian's packages (:mod:`~voxtra.sandbox.asterisk`,
:mod:`~voxtra.sandbox.rootfs`), SIPp as the caller and callee (:mod:`~voxtra.sandbox.sipp`),
the capture of what each side heard (:mod:`~voxtra.sandbox.capture`,
:mod:`~voxtra.sandbox.audio`), telephone-band speech from several voices
(:mod:`~voxtra.sandbox.telephone`), and the network and machine a call meets: a UDP
relay standing in for NAT, an ARI proxy that mangles events, a CPU hog. The ``voxtra``
command runs it (``voxtra sandbox``, ``voxtra demo``); tests and benches use it too.
Nothing in the framework imports it.
"""
