"""The embedded demo: with no SIP trunk configured and demo mode on, the dialer calls
loopback peers instead of the world.

- Debtor phones: one pjsua2 peer per line worker (a peer holds 4 calls, a worker at most
  2 debtor lines), at 127.0.0.1:5700+i; each answers, is busy, rings out or rejects by
  the number's last digit (`dialer.engine.peer.PATTERN`), rings 1-4 s (seeded) and hangs
  up after 20-60 s of talk.
- Agents' phones: auto-answering softphones at 127.0.0.1:5800+j, one per two workers.
  An agent logs in to a campaign with `sip:<any name>@127.0.0.1:5800` (`demo_phone_uri`).

REGUA_DIALER_DEMO_PORT moves both (5700: debtor phones at +i, agents' phones at +100+j);
their RTP ranges follow the line workers' (REGUA_DIALER_RTP_PORT).
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from dialer.engine.peer import PeerProcess
from dialer.engine.sip import write_tone

TRUNK_PORT, PHONE_PORT = 5700, 5800


def demo_phone_uri(name: str, index: int = 0) -> str:
    return f"sip:{name}@127.0.0.1:{PHONE_PORT + index}"


class DemoPeers:
    def __init__(self, workers: int, state_dir: Path, *, sip_port: int, rtp_port: int,
                 seed: int = 7) -> None:
        self.workers, self.seed = workers, seed
        self.sip_port, self.rtp_port = sip_port, rtp_port
        self.folder = state_dir / "dialer" / "demo"
        self.peers: list[PeerProcess] = []

    def start(self) -> list[str]:
        """Start the peers; returns the trunk (host:port) of each line worker."""
        voice = write_tone(self.folder / "debtor.wav", 2.0, 300.0, 500.0)
        agent = write_tone(self.folder / "agent.wav", 2.0, 700.0, 900.0)
        rng = random.Random(self.seed)  # noqa: S311 - a demo's pattern
        trunks = []
        for i in range(self.workers):
            self.peers.append(PeerProcess(
                "trunk", self.sip_port + i, self.rtp_port + 40 * i, tone=str(voice),
                ring_s=2.5, talk_s=rng.uniform(20, 60), seed=self.seed + i))
            trunks.append(f"127.0.0.1:{self.sip_port + i}")
        phones = self.sip_port + PHONE_PORT - TRUNK_PORT
        for j in range(math.ceil(self.workers / 2)):
            self.peers.append(PeerProcess("agent", phones + j,
                                          self.rtp_port + 40 * (self.workers + j),
                                          tone=str(agent)))
        return trunks

    def stop(self) -> None:
        for peer in self.peers:
            peer.stop()
        self.peers.clear()
