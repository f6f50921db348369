"""Identity: the reference JWT validator apps copy or import, and dev-issuer token minting.

`validator` depends only on PyJWT, cryptography and httpx so an app can vendor that one
file; `tokens` talks to the dev issuer (OpenBao identity tokens) and is for tests only.
"""
