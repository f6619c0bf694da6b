"""A loopback SIP peer: the demo's trunk (debtor phones) and agents' auto-answering phones.

One pjsua2 process (so at most 4 calls). As a trunk it answers by the last digit of the
dialed number; as an agent phone it answers every call at once. Either side can send a
tone and measures the level of what it receives, so a test can tell audio crossed the
bridge. Run as `python -m dialer.engine.peer FD CONFIG_JSON`; `PeerProcess` starts one.

Debtor phones by the number's last digit (the demo's pattern):
  0-3 answer after ring_s seconds (the demo varies it by a seed), 4 answers at once,
  5 busy (486), 6 rings until the dialer gives up, 7 rejects (603), 8 does not exist (404),
  9 congestion (503).
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import pjsua2 as pj

from dialer.engine import processes
from dialer.engine.sip import EndpointSpec, account_config, audio_of, op, start_endpoint

PATTERN: dict[str, tuple[str, int]] = {
    "0": ("answer", 200), "1": ("answer", 200), "2": ("answer", 200), "3": ("answer", 200),
    "4": ("answer_now", 200), "5": ("reject", 486), "6": ("ring", 180), "7": ("reject", 603),
    "8": ("reject", 404), "9": ("reject", 503),
}


@dataclass
class PeerCall:
    user: str
    call: pj.Call | None
    started: float
    answer_at: float | None = None
    hangup_at: float | None = None
    answered: float | None = None
    ended: float | None = None
    rx_max: int = 0
    tone: pj.AudioMediaPlayer | None = None
    recorder: pj.AudioMediaRecorder | None = None
    recording: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"user": self.user, "answered": self.answered is not None,
                "ended": self.ended is not None, "rx_max": self.rx_max,
                "auto_answer": self.extra.get("auto_answer", False),
                "recording": self.recording}


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, peer: Peer, account: pj.Account, call_id: int) -> None:
        super().__init__(account, call_id)
        self.peer = peer

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        self.peer.on_state(self, self.getInfo())

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        self.peer.on_media(self)


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.peer.on_incoming(self, prm)


class Peer:
    def __init__(self, conn: Connection, config: dict[str, Any]) -> None:
        self.conn = conn
        self.role: str = config["role"]  # trunk | agent
        self.ring_s: float = config.get("ring_s", 0.5)
        self.talk_s: float | None = config.get("talk_s")  # None: until the other side ends
        self.tone: str | None = config.get("tone")  # a WAV sent to whoever answers
        # A folder where each answered call's received audio is written, one WAV a call.
        self.record_dir: str | None = config.get("record_dir")
        self.rng = random.Random(config.get("seed", 7))  # noqa: S311 - a demo's pattern
        self.spec = EndpointSpec(sip_port=config["sip_port"], rtp_port=config["rtp_port"],
                                 log_level=config.get("log_level", 1))
        self.ep = start_endpoint(self.spec)
        self.account = _Account(self)
        self.account.create(account_config(self.role, self.spec))
        self.calls: list[PeerCall] = []
        self.live: dict[int, PeerCall] = {}
        self.ended: list[PeerCall] = []  # their Call objects are dropped on the loop
        self.running = True

    def on_incoming(self, account: pj.Account, prm: pj.OnIncomingCallParam) -> None:
        call = _Call(self, account, prm.callId)
        msg = prm.rdata.wholeMsg
        first = msg.split("\r\n", 1)[0]
        found = re.match(r"INVITE sips?:([^@;> ]+)@", first)
        user = found.group(1) if found else ""
        peer_call = PeerCall(user, call, time.time())
        peer_call.extra["auto_answer"] = "answer-after=0" in msg
        self.calls.append(peer_call)
        peer_call.extra["n"] = len(self.calls)
        self.live[prm.callId] = peer_call
        now = time.time()
        if self.role == "agent":
            peer_call.answer_at = now
            call.answer(op(180))
            return
        action, code = PATTERN.get(user[-1:] if user else "0", ("answer", 200))
        if action == "reject":
            call.answer(op(180 if code == 503 else 100))
            call.hangup(op(code))
            return
        call.answer(op(180))
        if action == "answer":
            peer_call.answer_at = now + self.ring_s * (0.5 + self.rng.random())
        elif action == "answer_now":
            peer_call.answer_at = now

    def on_state(self, call: pj.Call, info: pj.CallInfo) -> None:
        peer_call = self.live.get(info.id)
        if peer_call is None:
            return
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and peer_call.answered is None:
            peer_call.answered = time.time()
            if self.talk_s is not None:
                peer_call.hangup_at = peer_call.answered + self.talk_s
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            peer_call.ended = time.time()
            self.live.pop(info.id, None)
            self.ended.append(peer_call)

    def on_media(self, call: pj.Call) -> None:
        info = call.getInfo()
        peer_call = self.live.get(info.id)
        audio = audio_of(call)
        if peer_call is None or audio is None:
            return
        if self.record_dir is not None and peer_call.recorder is None:
            peer_call.recording = f"{self.record_dir}/{peer_call.user}-{peer_call.extra['n']}.wav"
            peer_call.recorder = pj.AudioMediaRecorder()
            peer_call.recorder.createRecorder(peer_call.recording)
            audio.startTransmit(peer_call.recorder)
        if self.tone is None or peer_call.tone:
            return
        peer_call.tone = pj.AudioMediaPlayer()
        peer_call.tone.createPlayer(self.tone)  # loops
        peer_call.tone.startTransmit(audio)

    def tick(self) -> None:
        now = time.time()
        ended, self.ended = self.ended, []
        for gone in ended:
            gone.tone = gone.recorder = gone.call = None
        for peer_call in list(self.live.values()):
            assert peer_call.call is not None
            if peer_call.answer_at is not None and now >= peer_call.answer_at:
                peer_call.answer_at = None
                peer_call.call.answer(op(200))
            elif peer_call.hangup_at is not None and now >= peer_call.hangup_at:
                peer_call.hangup_at = None
                peer_call.call.hangup(op())
            if peer_call.answered is not None:
                audio = audio_of(peer_call.call)
                if audio is not None:
                    peer_call.rx_max = max(peer_call.rx_max, audio.getRxLevel())

    def handle(self, cmd: dict[str, Any]) -> None:
        if cmd["op"] == "stats":
            self.conn.send([c.summary() for c in self.calls])
        elif cmd["op"] == "hangup":
            for peer_call in list(self.live.values()):
                if peer_call.user == cmd["user"] and peer_call.call is not None:
                    peer_call.call.hangup(op())
        elif cmd["op"] == "stop":
            self.running = False

    def run(self) -> None:
        self.conn.send({"ev": "ready"})
        try:
            while self.running:
                self.ep.libHandleEvents(10)
                while self.conn.poll():
                    self.handle(self.conn.recv())
                self.tick()
        except (EOFError, OSError):
            pass
        self.ep.hangupAllCalls()
        deadline = time.time() + 2
        while self.live and time.time() < deadline:
            self.ep.libHandleEvents(10)
        self.tick()
        for peer_call in self.calls:
            peer_call.tone = peer_call.recorder = peer_call.call = None
        self.calls.clear()
        self.live.clear()
        self.account.shutdown()
        del self.account
        self.ep.libDestroy()


class PeerProcess:
    """A peer in its own process, driven from a test, the demo or a benchmark."""

    def __init__(self, role: str, sip_port: int, rtp_port: int, **config: Any) -> None:
        self.role, self.sip_port = role, sip_port
        self.process, self.conn = processes.spawn(
            "dialer.engine.peer", {"role": role, "sip_port": sip_port, "rtp_port": rtp_port,
                                   **config})
        if not self.conn.poll(10):
            raise RuntimeError(f"SIP peer on port {sip_port} did not start")
        self.conn.recv()

    def uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.sip_port}"

    def stats(self) -> list[dict[str, Any]]:
        self.conn.send({"op": "stats"})
        result: list[dict[str, Any]] = self.conn.recv()
        return result

    def hangup(self, user: str) -> None:
        self.conn.send({"op": "hangup", "user": user})

    def stop(self) -> None:
        processes.stop(self.process, self.conn)


def main() -> None:
    fd, config = int(sys.argv[1]), json.loads(sys.argv[2])
    Peer(Connection(fd), config).run()


if __name__ == "__main__":
    main()
