"""Signs COUNT requests `GET URL` with oauthlib (not grantlog's own signer), each with its
own nonce and the current timestamp, and writes one Authorization header a line: what
`replay.lua` has wrk send, each once.

    python presign.py --url http://127.0.0.1:18180/api/photos \
        --credentials KEY:SECRET:TOKEN:TOKEN_SECRET --count 200000 --out signed.txt
"""

import argparse

from oauthlib.oauth1 import Client


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--credentials", required=True, help="CLIENT_KEY:CLIENT_SECRET:TOKEN:TOKEN_SECRET")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    key, secret, token, token_secret = args.credentials.split(":")
    client = Client(key, client_secret=secret, resource_owner_key=token, resource_owner_secret=token_secret)
    with open(args.out, "w") as out:
        for _ in range(args.count):
            _, headers, _ = client.sign(args.url, http_method="GET")
            out.write(headers["Authorization"] + "\n")


if __name__ == "__main__":
    main()
