"""The Asterisk side: the configuration Voxtra renders for an Asterisk
(:mod:`~voxtra.asterisk.conf`, from the bundled ``asterisk-conf/``) and what it needs
from any Asterisk, checked over ARI (:mod:`~voxtra.asterisk.capabilities`,
``voxtra check``)."""
