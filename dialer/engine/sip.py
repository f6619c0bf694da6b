"""pjsua2 set-up shared by line workers and the loopback peers.

Imports only the standard library and pjsua2: every process that runs an endpoint starts
with `python -m ...` and must start fast (a line worker is up in about 0.2 s).

What the wheel allows shapes everything here: at most 4 calls per process, 8 SIP
transports, and a conference bridge that joins only calls of one process. Each process
has one endpoint with `threadCnt=0`: its callbacks run on its own loop thread, inside
`libHandleEvents`. The null audio device drives the bridge's clock.
"""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import pjsua2 as pj

MAX_CALLS = 4  # the wheel's PJSUA_MAX_CALLS


@dataclass(frozen=True)
class EndpointSpec:
    sip_port: int
    rtp_port: int
    rtp_range: int = 40
    bind: str = "127.0.0.1"
    codecs: tuple[str, ...] = ("PCMA/8000", "PCMU/8000")
    log_level: int = 1


def start_endpoint(spec: EndpointSpec) -> pj.Endpoint:
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = False
    cfg.uaConfig.maxCalls = MAX_CALLS
    cfg.uaConfig.userAgent = "Regua-dialer"
    cfg.logConfig.level = spec.log_level
    cfg.logConfig.consoleLevel = spec.log_level
    cfg.medConfig.noVad = True
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.channelCount = 1
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)
    transport = pj.TransportConfig()
    transport.port = spec.sip_port
    transport.boundAddress = spec.bind
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    ep.libStart()
    ep.audDevManager().setNullDev()
    _codecs(ep, spec.codecs)
    return ep


def _codecs(ep: pj.Endpoint, wanted: tuple[str, ...]) -> None:
    prefixes = [w.strip().lower() for w in wanted if w.strip()]
    for info in ep.codecEnum2():
        codec = info.codecId
        rank = next((i for i, p in enumerate(prefixes) if codec.lower().startswith(p)), None)
        ep.codecSetPriority(codec, 0 if rank is None else 255 - rank)


def account_config(user: str, spec: EndpointSpec, *, registrar: str | None = None,
                   auth: tuple[str, str] | None = None) -> pj.AccountConfig:
    cfg = pj.AccountConfig()
    cfg.idUri = f"sip:{user}@{spec.bind if spec.bind != '0.0.0.0' else '127.0.0.1'}"  # noqa: S104
    if registrar:
        cfg.regConfig.registrarUri = registrar
    else:
        cfg.regConfig.registerOnAdd = False
    if auth is not None:
        cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", auth[0], 0, auth[1]))
    # No re-INVITE to lock one codec after an answer listing several: a leg costs one
    # INVITE transaction, and simple UAS peers (SIPp scenarios) do not expect a second.
    cfg.mediaConfig.lockCodecEnabled = False
    cfg.mediaConfig.transportConfig.port = spec.rtp_port
    cfg.mediaConfig.transportConfig.portRange = spec.rtp_range
    cfg.mediaConfig.transportConfig.boundAddress = spec.bind
    return cfg


def audio_of(call: pj.Call) -> pj.AudioMedia | None:
    """The call's audio port on the bridge once its media is active, else None."""
    info = call.getInfo()
    for index, media in enumerate(info.media):
        if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            return call.getAudioMedia(index)
    return None


def op(status: int = 0, headers: dict[str, str] | None = None) -> pj.CallOpParam:
    prm = pj.CallOpParam(True)
    if status:
        prm.statusCode = status
    for name, value in (headers or {}).items():
        header = pj.SipHeader()
        header.hName, header.hValue = name, value
        prm.txOption.headers.append(header)
    return prm


def write_tone(path: Path, seconds: float, hz: float = 440.0, pause_hz: float = 0.0) -> Path:
    """A 8 kHz mono 16-bit WAV: a tone (two alternating tones when `pause_hz`)."""
    rate = 8000
    frames = bytearray()
    for n in range(int(seconds * rate)):
        freq = hz if pause_hz == 0 or (n // 4000) % 2 == 0 else pause_hz
        frames += struct.pack("<h", int(9000 * math.sin(2 * math.pi * freq * n / rate)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def wav_seconds(path: str) -> float:
    with wave.open(path, "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())
