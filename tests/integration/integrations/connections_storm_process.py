"""One of the refresh storm's worker processes (tests/integration/integrations/
test_connections_refresh.py): the worker's composition root, then N threads asking the token
port for the same connection at once. Prints `ready`, waits for a line on stdin, prints one
line of JSON: the sha256 of each token it got (never a token)."""

from __future__ import annotations

import hashlib
import json
import sys
import threading

from commands.bootstrap import bootstrap
from commands.settings import CairnSettings


def main() -> None:
    tenant, person, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    services = bootstrap(CairnSettings.from_env())
    assert services.connections is not None
    tokens = services.connections.tokens
    got: list[str] = []
    errors: list[str] = []
    go = threading.Event()

    def call() -> None:
        go.wait()
        try:
            token = tokens.access_token(tenant, person, "google")
            got.append(hashlib.sha256(token.value.encode()).hexdigest())
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=call) for _ in range(calls)]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    sys.stdin.readline()
    go.set()
    for thread in threads:
        thread.join(60)
    print(json.dumps({"tokens": got, "errors": errors}), flush=True)
    services.close()


if __name__ == "__main__":
    main()
