"""The web demo: `python src/demo.py [--port 7860] [--host 127.0.0.1] [--logs logs] [--precision auto]`
(or `make demo`)."""

import argparse
from pathlib import Path

from segbench.demo import build_demo, find_models
from segbench.utils import exit_on_user_error


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve on (127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--logs", type=Path, default=Path("logs"), help="where to look for checkpoints")
    parser.add_argument(
        "--precision", default="auto", help="32-true, bf16-mixed, or auto: the fastest measured on this machine"
    )
    args = parser.parse_args()
    build_demo(find_models(args.logs), args.precision).launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
