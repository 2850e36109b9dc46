"""An outbound campaign: the contacts of ``contacts.csv`` (a ``number`` column, an optional
``timezone``, any others handed to the handler as ``call.metadata``) are dialled at most
two at a time, one a second, within 8:00-21:00 in each contact's time zone; busy and
unanswered numbers are tried again; the state survives a restart (``reminders.campaign.db``).

    eval "$(voxtra sandbox env)" && DIAL='PJSIP/trunk/{number}' python examples/campaign.py

``DIAL`` is the dial string, ``{number}`` and any contact column in braces. Results go to
``results.csv`` at the end. With a live view of its progress instead::

    DIAL='PJSIP/trunk/{number}' voxtra campaign run examples/campaign.py --export results.csv
"""

import logging
import os

from voxtra import CallSession, VoxtraApp
from voxtra.outbound import Campaign, Contact, Retry, RetryPolicy
from voxtra.runner import run

log = logging.getLogger("campaign")


async def remind(call: CallSession) -> str:
    """Runs when a contact answers; what it returns is the attempt's result."""
    log.info("reminding %s", call.metadata.get("name", call.metadata["contact"]))
    await call.play_file("sound:hello-world")
    await call.hangup()
    return "reminded"


app = VoxtraApp()
campaign = Campaign(
    app, Contact.from_csv(os.environ.get("CONTACTS", "contacts.csv")), remind,
    name="reminders", dial=os.environ["DIAL"], caller_id="Acme <5550100>",
    max_concurrent=2, calls_per_second=1, ring_timeout=20,
    retry=RetryPolicy(busy=Retry(attempts=3, delay=600),
                      no_answer=Retry(attempts=2, delay=1800)))


async def main() -> None:
    async with app:
        counts = await campaign.run()
    await campaign.export("results.csv")
    log.info("campaign done: %s", counts)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run(main())
