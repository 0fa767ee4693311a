"""Print the API's OpenAPI document as committed in docs/openapi.json (`make openapi`)."""

from __future__ import annotations

import sys

from api.app import create_app
from api.contract import render


def main() -> None:
    sys.stdout.write(render(create_app(with_services=False)))


if __name__ == "__main__":
    main()
