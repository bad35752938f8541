"""SIP dialogs (RFC 3261 §12) and the ACK for a 2xx built from one (§13.2.2.4)."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.sip.sipcore.message import (
    Addr,
    NameAddr,
    Request,
    Response,
    new_branch,
    uri_hostport,
    uri_params,
)


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: list[str] = field(default_factory=list)
    local_seq: int = 0
    remote_seq: int | None = None

    @classmethod
    def as_uac(cls, invite: Request, resp: Response) -> Dialog:
        """§12.1.2: route set = the response's Record-Route reversed, remote target = its Contact."""
        contact = resp.get("Contact")
        return cls(call_id=invite.call_id, local_tag=invite.from_.params.get("tag", ""),
                   remote_tag=resp.to.params.get("tag", ""), local_uri=invite.from_.uri,
                   remote_uri=invite.to.uri,
                   remote_target=NameAddr.parse(contact).uri if contact else invite.uri,
                   route_set=list(reversed(resp.all("Record-Route"))), local_seq=invite.cseq[0])

    @classmethod
    def as_uas(cls, invite: Request, local_tag: str) -> Dialog:
        """§12.1.1: route set = the request's Record-Route in order, remote target = its Contact."""
        contact = invite.get("Contact")
        return cls(call_id=invite.call_id, local_tag=local_tag,
                   remote_tag=invite.from_.params.get("tag", ""), local_uri=invite.to.uri,
                   remote_uri=invite.from_.uri,
                   remote_target=NameAddr.parse(contact).uri if contact else invite.from_.uri,
                   route_set=list(invite.all("Record-Route")), remote_seq=invite.cseq[0])

    def _base(self, method: str, seq: int, via: str) -> Request:
        """§12.2.1.1: Request-URI and Route from the route set (loose or strict first hop)."""
        routes = list(self.route_set)
        uri = self.remote_target
        if routes and "lr" not in uri_params(NameAddr.parse(routes[0]).uri):
            uri = NameAddr.parse(routes[0]).uri  # strict router: it takes the R-URI's place
            routes = [*routes[1:], f"<{self.remote_target}>"]
        req = Request(method=method, uri=uri)
        req.add("Via", via)
        for route in routes:
            req.add("Route", route)
        req.add("Max-Forwards", "70")
        req.add("From", f"<{self.local_uri}>;tag={self.local_tag}")
        to_tag = f";tag={self.remote_tag}" if self.remote_tag else ""
        req.add("To", f"<{self.remote_uri}>{to_tag}")
        req.add("Call-ID", self.call_id)
        req.add("CSeq", f"{seq} {method}")
        return req

    def request(self, method: str, sent_by: Addr, contact: str) -> Request:
        """A new in-dialog request (BYE, re-INVITE, INFO…): next local CSeq, fresh branch."""
        self.local_seq += 1
        req = self._base(method, self.local_seq, via(sent_by))
        if method == "INVITE":
            req.add("Contact", contact)
        return req

    def ack(self, invite_seq: int, sent_by: Addr) -> Request:
        """§13.2.2.4: the ACK for a 2xx — a new branch, the INVITE's CSeq number, the route set,
        sent to the remote target (through the route set's first hop)."""
        return self._base("ACK", invite_seq, via(sent_by))

    def next_hop(self, outbound: Addr | None) -> Addr:
        """Where an in-dialog request goes: the first Route (a loose router), else the outbound
        proxy, else the remote target (§8.1.2)."""
        if self.route_set:
            return uri_hostport(NameAddr.parse(self.route_set[0]).uri)
        return outbound or uri_hostport(self.remote_target)

    def accept_remote(self, req: Request) -> bool:
        """§12.2.2: a remote CSeq lower than the last one is refused (500); a re-INVITE's
        Contact refreshes the remote target."""
        seq = req.cseq[0]
        if req.method != "ACK":
            if self.remote_seq is not None and seq < self.remote_seq:
                return False
            self.remote_seq = seq
        if req.method == "INVITE" and (contact := req.get("Contact")):
            self.remote_target = NameAddr.parse(contact).uri
        return True


def via(sent_by: Addr) -> str:
    return f"SIP/2.0/UDP {sent_by[0]}:{sent_by[1]};branch={new_branch()};rport"
