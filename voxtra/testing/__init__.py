"""The kit for testing a Voxtra app: the pytest plugin (:mod:`~voxtra.testing.plugin`), an
app run as a process (:mod:`~voxtra.testing.apps`), voice providers with controllable
timing (:mod:`~voxtra.testing.voice`), a local ARI that feeds an app events with no
Asterisk (:mod:`~voxtra.testing.ari`), an ARI event log (:mod:`~voxtra.testing.events`),
every channel seen from Asterisk's side (:mod:`~voxtra.testing.watch`) and local servers
that speak the cloud services' protocols (:mod:`voxtra.testing.services`).
"""
