"""One customer across channels: an e-mail, then an SMS, then a chat; the third pop shows all three.

The e-mail comes in over SMTP to the server's own listener, the SMS as a webhook signed with the
twilio SDK's validator, the chat over the visitor WebSocket; the agent works them on the real
desktop socket. The chat's details (the same e-mail and phone) are only claims: a one-time code
sent to the address proves one, the agent links the other by hand, and then the three are one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.adapters.center import running_center
from tests.adapters.email.conftest import email_channel
from tests.adapters.email.mails import SUPPORT, mail, raw
from tests.adapters.email.peers import SmtpSink, free_port
from tests.adapters.sms.fake_twilio import FakeTwilio, inbound_sms, post_webhook, sms_section
from tests.wsclient import JsonSocket

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.integration]

ANN_MAIL = "ann.lee@example.com"
ANN_PHONE = "+14155550134"


async def work(agent: JsonSocket, disposition: str = "resolved") -> dict[str, object]:
    offer = await agent.expect("interaction.offered")
    iid = offer["interaction_id"]
    assert (await agent.command({"type": "accept", "interaction_id": iid}))["type"] == "ack"
    done = await agent.command({"type": "complete", "interaction_id": iid, "disposition": disposition})
    assert done["type"] == "ack", done
    return offer


async def code_sent_to(sink: SmtpSink, address: str) -> str:
    """The one-time code in the first code mail the relay got for ``address``."""
    seen = 0
    while True:
        mails = await sink.wait_for(seen + 1)
        for captured in mails[seen:]:
            if captured.message["Subject"] == "Your verification code" and address in captured.rcpt_tos:
                found = re.search(r"\b(\d{6})\b", captured.message.get_content())
                assert found is not None
                return found.group(1)
        seen = len(mails)


async def test_the_third_channel_pops_the_history_of_all_three(tmp_path: Path) -> None:
    from adapters.email import submit_async

    sink, twilio = SmtpSink(), FakeTwilio()
    await sink.start()
    await twilio.start()
    smtp_port = free_port()
    channels = {**email_channel(tmp_path, smtp_port=smtp_port, relay_port=sink.port),
                "sms": sms_section(twilio)}
    try:
        async with running_center(tmp_path, channels) as center:
            alice = await center.agent_socket("alice")

            # 1. An e-mail.
            answer = await submit_async("127.0.0.1", smtp_port, raw(mail(
                sender=f"Ann Lee <{ANN_MAIL}>", subject="Order 42", body="Order 42 never came.")),
                mail_from=ANN_MAIL, rcpt_to=[SUPPORT])
            assert answer.accepted
            email_offer = await work(alice)
            email_customer = email_offer["screen_pop"]["customer"]["id"]  # type: ignore[index]

            # 2. An SMS from her phone: not yet known to be her.
            status, _, _ = await post_webhook(center.http, center.url, "/webhooks/twilio/sms",
                                              inbound_sms("SM0001", ANN_PHONE, "Any news on order 42?"))
            assert status == 200
            sms_offer = await work(alice)
            assert sms_offer["screen_pop"]["customer"]["id"] != email_customer  # type: ignore[index]

            # 3. A chat in which she types both: claims, shown as such, with none of her history
            # until they are proven (issue 9: typed details never attach or merge on their own).
            chat = JsonSocket(await center.http.ws_connect(
                f"{center.url.replace('http', 'ws', 1)}/ws/chat"))
            await chat.send({"type": "hello", "name": "Ann Lee", "email": ANN_MAIL, "phone": "415 555 0134"})
            await chat.expect("welcome")
            await chat.send({"type": "message", "body": "Still about order 42"})
            offer = await alice.expect("interaction.offered")
            pop = offer["screen_pop"]
            assert pop["channels_seen"] == ["chat"]
            claims = {c["kind"]: c for c in pop["claims"]}
            assert {(k, c["value"]) for k, c in claims.items()} == {("email", ANN_MAIL), ("phone", ANN_PHONE)}
            iid = offer["interaction_id"]
            assert (await alice.command({"type": "accept", "interaction_id": iid}))["type"] == "ack"

            # Alice sends a code to the address and Ann types it back; the phone she links by hand.
            claim_url = f"/api/interactions/{iid}/claims"
            status, body = await center.api("alice", "POST", f"{claim_url}/{claims['email']['id']}/send-code")
            assert status == 200, body
            code = await code_sent_to(sink, ANN_MAIL)
            status, body = await center.api("alice", "POST", f"{claim_url}/{claims['email']['id']}/verify",
                                            {"code": code})
            assert status == 200, body
            status, body = await center.api("alice", "POST", f"{claim_url}/{claims['phone']['id']}/link",
                                            {"reason": "she gave the order number from the SMS"})
            assert status == 200, body

            # One customer now, and the pop shows all three.
            status, pop = await center.api("alice", "GET", f"/api/interactions/{iid}/screen-pop")
            assert status == 200, pop
            identities = {(i["kind"], i["value"]) for i in pop["customer"]["identities"]}
            assert {("email", ANN_MAIL), ("phone", ANN_PHONE)} <= identities
            assert pop["channels_seen"] == ["chat", "email", "sms"]
            said = {(e["channel"], e["summary"]) for e in pop["timeline"] if e["kind"] == "message"}
            assert ("email", "Order 42 never came.") in said
            assert ("sms", "Any news on order 42?") in said
            assert ("chat", "Still about order 42") in said
            await chat.close()
            await alice.close()
    finally:
        await twilio.close()
        await sink.aclose()
