"""The SIP engine: a coordinator and its pool of pjsua2 line-worker processes."""
