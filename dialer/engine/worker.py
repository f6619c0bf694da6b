"""A line worker: one process, one pjsua2 endpoint, at most two debtor calls.

The wheel holds 4 calls per process and bridges only calls of one process, so each
debtor call keeps a slot free for the agent leg it will be bridged to. The coordinator
sends commands over a `multiprocessing` connection (a socket pair inherited at start);
the worker answers with events. Run as `python -m dialer.engine.worker FD CONFIG_JSON`.

Commands: dial(call_id, uri, ring_timeout), bridge(call_id, agent_uri), hangup(call_id),
stop. Events: ready, ringing, answered, agent_failed, bridged(latency_ms),
ended(outcome, sip_code, reason, timings, recording).

The answer-to-bridge latency runs from the debtor's 200 OK (call confirmed) to the
moment both legs' audio ports are connected on the bridge with the agent's media active,
i.e. when the first frame of the debtor's audio can reach the agent.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pjsua2 as pj

from dialer.engine.sip import (
    EndpointSpec,
    account_config,
    audio_of,
    op,
    start_endpoint,
    wav_seconds,
)

LINES_PER_WORKER = 2  # 4 calls per process: each debtor leg keeps one for its agent
ABANDON_AFTER_S = 2.0
AUTO_ANSWER = {"Call-Info": "<sip:127.0.0.1>;answer-after=0",
               "Alert-Info": "<http://127.0.0.1/>;info=alert-autoanswer;delay=0"}
BUSY_CODES, INVALID_CODES = {486, 600}, {404, 484, 604}


def classify(code: int, *, rang_out: bool) -> str:
    """The outcome of a call that was never answered, from its final SIP code."""
    if rang_out or code in (480, 487):
        return "no_answer"
    if code in BUSY_CODES:
        return "busy"
    if code in INVALID_CODES:
        return "invalid"
    if code == 503:
        return "congestion"
    if 400 <= code < 500 or code >= 600:
        return "rejected"
    return "failed"


class Leg(pj.Call):  # type: ignore[misc]
    def __init__(self, worker: Worker, line: Line, account: pj.Account, agent: bool) -> None:
        super().__init__(account)
        self.worker, self.line, self.agent = worker, line, agent

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self.worker.on_state(self.line, self, info)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        self.worker.on_media(self.line, self)


@dataclass
class Line:
    call_id: str
    uri: str
    ring_timeout: float
    dialed: float
    abandon_wav: str | None = None
    reserved: str | None = None  # the agent the line was dialed for: called on answer
    debtor: Leg | None = None
    agent: Leg | None = None
    agent_uri: str | None = None
    offered: float | None = None  # when the coordinator named the agent
    ringing: float | None = None
    answered: float | None = None
    bridged: float | None = None
    ended: float | None = None
    rang_out: bool = False
    sip_code: int | None = None
    reason: str | None = None
    recorder: pj.AudioMediaRecorder | None = None
    recording: str | None = None
    player: pj.AudioMediaPlayer | None = None
    message_ends: float | None = None
    abandoned: bool = False
    hanging_up: bool = False
    debtor_audio: pj.AudioMedia | None = None
    legs: list[Leg] = field(default_factory=list)


class Worker:
    def __init__(self, conn: Connection, config: dict[str, Any]) -> None:
        self.conn = conn
        self.id: int = config["worker_id"]
        self.spec = EndpointSpec(sip_port=config["sip_port"], rtp_port=config["rtp_port"],
                                 bind=config.get("bind", "127.0.0.1"),
                                 codecs=tuple(config.get("codecs", ("PCMA/8000", "PCMU/8000"))),
                                 log_level=config.get("log_level", 1))
        self.recordings = Path(config["recordings_dir"])
        self.recordings.mkdir(parents=True, exist_ok=True)
        self.abandon_wav: str | None = config.get("abandon_wav")
        self.record = bool(config.get("record", True))
        self.ep = start_endpoint(self.spec)
        self.account = pj.Account()
        auth = (config["trunk_user"], config["trunk_password"]) \
            if config.get("trunk_user") else None
        self.account.create(account_config(
            config.get("caller_id", "regua"), self.spec,
            registrar=config.get("registrar"), auth=auth))
        self.lines: dict[str, Line] = {}
        self.closed: list[Line] = []  # ended: resources freed on the loop, then reported
        self.running = True

    # ---- commands --------------------------------------------------------------------
    def handle(self, cmd: dict[str, Any]) -> None:
        kind = cmd["op"]
        if kind == "dial":
            self.dial(cmd["call_id"], cmd["uri"], float(cmd["ring_timeout"]),
                      cmd.get("abandon_wav"), cmd.get("agent_uri"))
        elif kind == "bridge":
            self.bridge(cmd["call_id"], cmd["agent_uri"])
        elif kind == "hangup":
            line = self.lines.get(cmd["call_id"])
            if line is not None:
                self.hang_up(line, "hung up by the agent")
        elif kind == "stop":
            self.running = False

    def send(self, event: str, **data: Any) -> None:
        self.conn.send({"ev": event, "worker": self.id, **data})

    def dial(self, call_id: str, uri: str, ring_timeout: float,
             abandon_wav: str | None = None, agent_uri: str | None = None) -> None:
        line = Line(call_id, uri, max(15.0, ring_timeout), time.time(),
                    abandon_wav=abandon_wav or self.abandon_wav, reserved=agent_uri)
        self.lines[call_id] = line
        if len(self.lines) > LINES_PER_WORKER:
            line.sip_code, line.reason = 0, "worker at capacity"
            self._close(line)
            return
        leg = Leg(self, line, self.account, agent=False)
        line.debtor = leg
        line.legs.append(leg)
        try:
            leg.makeCall(uri, op())
        except pj.Error as exc:
            line.sip_code, line.reason = 0, f"makeCall: {exc.info()}"
            self._close(line)

    def bridge(self, call_id: str, agent_uri: str) -> None:
        line = self.lines.get(call_id)
        if line is None or line.answered is None or line.abandoned or line.hanging_up:
            self.send("agent_failed", call_id=call_id, reason="call no longer waiting")
            return
        leg = Leg(self, line, self.account, agent=True)
        line.agent, line.agent_uri, line.offered = leg, agent_uri, time.time()
        line.legs.append(leg)
        try:
            leg.makeCall(agent_uri, op(headers=AUTO_ANSWER))
        except pj.Error as exc:
            line.agent = None
            self.send("agent_failed", call_id=call_id, reason=f"makeCall: {exc.info()}")

    def hang_up(self, line: Line, reason: str) -> None:
        if line.hanging_up:
            return
        line.hanging_up = True
        line.reason = line.reason or reason
        for leg in (line.agent, line.debtor):
            if leg is not None:
                try:
                    leg.hangup(op())
                except pj.Error:  # already disconnecting
                    pass

    # ---- callbacks (on this loop thread) ---------------------------------------------
    def on_state(self, line: Line, leg: Leg, info: pj.CallInfo) -> None:
        now = time.time()
        if leg.agent:
            self._agent_state(line, leg, info, now)
            return
        if info.state == pj.PJSIP_INV_STATE_EARLY and line.ringing is None:
            line.ringing = now
            self.send("ringing", call_id=line.call_id, at=now)
        elif info.state == pj.PJSIP_INV_STATE_CONFIRMED and line.answered is None:
            line.answered, line.sip_code = now, 200
            self.send("answered", call_id=line.call_id, at=now)
            if line.reserved is not None:
                self.bridge(line.call_id, line.reserved)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            if line.sip_code != 200:
                line.sip_code = info.lastStatusCode
                line.reason = line.reason or info.lastReason
            if line.agent is not None and line.bridged is not None:
                self.hang_up(line, "the debtor hung up")
            elif line.agent is not None:
                self.hang_up(line, line.reason or "ended")
            line.debtor = None
            self._maybe_close(line)

    def _agent_state(self, line: Line, leg: Leg, info: pj.CallInfo, now: float) -> None:
        if info.state != pj.PJSIP_INV_STATE_DISCONNECTED:
            return
        line.agent = None
        if line.bridged is not None:
            self.hang_up(line, "the agent hung up")
        elif not line.hanging_up:
            self.send("agent_failed", call_id=line.call_id,
                      reason=f"agent leg {info.lastStatusCode} {info.lastReason}")
        self._maybe_close(line)

    def on_media(self, line: Line, leg: Leg) -> None:
        audio = audio_of(leg)
        if audio is None:
            return
        if not leg.agent:
            line.debtor_audio = audio
            if self.record and line.recorder is None:
                line.recording = str(self.recordings / f"{line.call_id}.wav")
                line.recorder = pj.AudioMediaRecorder()
                line.recorder.createRecorder(line.recording)
                audio.startTransmit(line.recorder)
            return
        if line.debtor_audio is None or line.abandoned or line.bridged is not None:
            return
        line.debtor_audio.startTransmit(audio)
        audio.startTransmit(line.debtor_audio)
        if line.recorder is not None:
            audio.startTransmit(line.recorder)
        line.bridged = time.time()
        assert line.answered is not None
        self.send("bridged", call_id=line.call_id, at=line.bridged,
                  latency_ms=round((line.bridged - line.answered) * 1000),
                  agent_leg_ms=round((line.bridged - (line.offered or line.answered)) * 1000))

    # ---- timers ----------------------------------------------------------------------
    def tick(self, now: float) -> None:
        for line in list(self.lines.values()):
            if line.hanging_up:
                continue
            if line.answered is None and now - line.dialed >= line.ring_timeout:
                line.rang_out = True
                self.hang_up(line, "ring timeout")
            elif (line.answered is not None and line.bridged is None and not line.abandoned
                  and now - line.answered >= ABANDON_AFTER_S):
                self._abandon(line, now)
            elif line.message_ends is not None and now >= line.message_ends:
                self.hang_up(line, "abandoned: message played")

    def _abandon(self, line: Line, now: float) -> None:
        """No agent within 2 s: the message names the agency and the creditor and gives
        a callback number; then the call ends."""
        line.abandoned = True
        if line.agent is not None:
            try:
                line.agent.hangup(op())
            except pj.Error:
                pass
        self.send("abandoning", call_id=line.call_id)
        if line.abandon_wav and line.debtor_audio is not None:
            line.player = pj.AudioMediaPlayer()
            line.player.createPlayer(line.abandon_wav, pj.PJMEDIA_FILE_NO_LOOP)
            line.player.startTransmit(line.debtor_audio)
            if line.recorder is not None:
                line.player.startTransmit(line.recorder)
            line.message_ends = now + wav_seconds(line.abandon_wav) + 0.2
        else:
            line.message_ends = now

    # ---- ending ----------------------------------------------------------------------
    def _maybe_close(self, line: Line) -> None:
        if line.debtor is None and line.agent is None:
            self._close(line)

    def _close(self, line: Line) -> None:
        line.ended = time.time()
        self.lines.pop(line.call_id, None)
        self.closed.append(line)

    def reap(self) -> None:
        """Free what ended calls held, outside their callbacks, then report them."""
        closed, self.closed = self.closed, []
        for line in closed:
            if line.player is not None:
                line.player = None
            if line.recorder is not None:
                line.recorder = None  # closes the WAV (its header gets the length)
            line.debtor_audio = None
            line.legs.clear()  # the Call objects go only now, after DISCONNECTED
            self.send("ended", call_id=line.call_id, outcome=self._outcome(line),
                      sip_code=line.sip_code, reason=line.reason, dialed=line.dialed,
                      ringing=line.ringing, answered=line.answered, bridged=line.bridged,
                      ended=line.ended, recording=line.recording if line.answered else None)

    @staticmethod
    def _outcome(line: Line) -> str:
        if line.answered is not None:
            return "answered" if line.bridged is not None else "abandoned"
        return classify(line.sip_code or 0, rang_out=line.rang_out)

    def run(self) -> None:
        self.send("ready", pid=os.getpid())
        try:
            while self.running or self.lines:
                self.ep.libHandleEvents(10)
                while self.conn.poll():
                    self.handle(self.conn.recv())
                if not self.running:
                    for line in list(self.lines.values()):
                        self.hang_up(line, "dialer stopping")
                self.tick(time.time())
                self.reap()
        except (EOFError, OSError):
            pass  # the coordinator is gone: nothing left to report to
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.ep.hangupAllCalls()
        deadline = time.time() + 2
        while self.lines and time.time() < deadline:
            self.ep.libHandleEvents(10)
        for line in list(self.lines.values()):
            line.legs.clear()
        self.lines.clear()
        self.closed.clear()
        self.account.shutdown()
        del self.account
        self.ep.libDestroy()


def main() -> None:
    fd, config = int(sys.argv[1]), json.loads(sys.argv[2])
    conn = Connection(fd)
    Worker(conn, config).run()


if __name__ == "__main__":
    main()
