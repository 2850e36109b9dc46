"""``voxtra render-conf``: the bundled Asterisk configuration, for your own Asterisk."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import click

from voxtra.asterisk.conf import AsteriskConf, render

#: Help of the flags that need more than their name.
CONF_HELP = {
    "open_binds": "allow ARI or SIP on every address, plain-HTTP ARI beyond loopback, "
                  "or SIP peers from a network wider than /16 (only behind a firewall or VPN)",
    "sip_tls_cert": "PEM certificate of the SIP TLS transport (as Asterisk sees the path); "
                    "with --sip-tls-key it turns SIP over TLS on",
    "sip_tls_key": "PEM private key of --sip-tls-cert",
    "sip_tls_ca": "PEM CAs that vouch for the TLS peers Asterisk calls",
    "sip_tls_bind": "address of the SIP TLS transport (default: --sip-bind)",
    "sip_tls_peer": "address or network of a peer that calls over TLS with SDES-SRTP "
                    "(endpoint tls-peer)",
    "ari_tls_cert": "PEM certificate for ARI over HTTPS/WSS; with --ari-tls-key it turns "
                    "HTTPS on",
    "ari_tls_key": "PEM private key of --ari-tls-cert",
    "ari_tls_bind": "address of ARI's HTTPS listener (default: --ari-bind); plain HTTP "
                    "stays on --ari-bind",
}


@click.command("render-conf")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def render_conf(out: Path, **values: Any) -> int:
    """Render asterisk-conf/ into OUT for an Asterisk of your own (the ARI password
    from VOXTRA_ARI_PASSWORD)."""
    conf = AsteriskConf(ari_password=os.environ.get("VOXTRA_ARI_PASSWORD", ""), **values)
    written = render(conf, out)
    click.echo(f"rendered {len(written)} files into {out}; ari.conf holds the ARI password "
               "and is readable by its owner only: give it to the user Asterisk runs as "
               f"(chown asterisk: {out}/ari.conf)")
    tls = conf.values()
    if conf.ari_tls:
        click.echo(f"ARI over HTTPS/WSS on {tls['ARI_TLS_ADDRESS']} (plain HTTP stays on "
                   f"{conf.ari_bind}:{conf.ari_port})")
    if conf.sip_tls:
        click.echo(f"SIP over TLS on {tls['SIP_TLS_ADDRESS']}; endpoints built on "
                   "voxtra-endpoint-tls use SDES-SRTP")
    if conf.sip_tls or conf.ari_tls:
        click.echo("the private keys must be readable by the user Asterisk runs as, and by "
                   "nobody else (chmod 600)")
    if not ipaddress.ip_address(conf.ari_bind).is_loopback:
        click.echo(f"WARNING: ARI over plain HTTP on {conf.ari_bind}:{conf.ari_port} "
                   "(allowed by --open-binds): the ARI password and call control cross the "
                   "network in cleartext; serve other hosts over TLS (--ari-tls-cert, "
                   "--ari-tls-key)", err=True)
    return 0


render_conf.params += [
    click.Option(["--" + f.name.replace("_", "-"), f.name], is_flag=True,
                 help=CONF_HELP.get(f.name)) if isinstance(f.default, bool) else
    click.Option(["--" + f.name.replace("_", "-"), f.name], type=type(f.default),
                 default=f.default, show_default=True, help=CONF_HELP.get(f.name))
    for f in fields(AsteriskConf) if f.name != "ari_password"]
