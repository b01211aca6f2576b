"""A browser wallet for the dashboard tests: an EIP-1193 ``window.ethereum`` whose keys live in the test.

The page's provider forwards each request to a small signer on 127.0.0.1, which signs typed data
(``eth_signTypedData_v4``) with a real account, as a wallet extension would. Its requests are
"simple" (a text/plain POST), so the browser sends them without a CORS preflight.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

PROVIDER = """
window.ethereum = {
  isFakeWallet: true,
  request: async ({ method, params }) => {
    const resp = await fetch("%s", { method: "POST", body: JSON.stringify({ method, params: params || [] }) });
    const data = await resp.json();
    if (data.error) throw new Error(data.error);
    return data.result;
  },
};
"""


def sign_typed_data(account: LocalAccount, typed: dict[str, Any]) -> str:
    """What a wallet returns for ``eth_signTypedData_v4``: 0x + r, s, v."""
    return "0x" + bytes(account.sign_message(encode_typed_data(full_message=typed)).signature).hex()


def _answer(account: LocalAccount, method: str, params: list[Any]) -> dict[str, Any]:
    if method in ("eth_requestAccounts", "eth_accounts"):
        return {"result": [account.address]}
    if method == "eth_signTypedData_v4":
        if str(params[0]).lower() != account.address.lower():
            return {"error": f"this wallet holds {account.address}, not {params[0]}"}
        return {"result": sign_typed_data(account, json.loads(params[1]))}
    return {"error": f"unsupported method {method}"}


@contextmanager
def fake_wallet(account: LocalAccount) -> Iterator[str]:
    """Serve the signer; yields the script that installs ``window.ethereum`` in a page."""

    class Signer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = json.dumps(_answer(account, body["method"], body["params"])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Signer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PROVIDER % f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
