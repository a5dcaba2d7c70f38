#!/usr/bin/env python3
"""Users and credentials for tests/bench/registrations.sh (fixed seed => reproducible).

Usage: gen_users.py OUTDIR

Users are 4-digit extensions 0000..9999 of one tenant whose domain (and digest realm) is
127.0.0.1. Writes into OUTDIR:
  users.csv          SIPp -inf (SEQUENTIAL; field0=user, field1=password): 1000..1999, the
                     rate steps (as in the Kamailio anchor)
  users_mem.csv      the same for 0000..9999, the 100,000-contact memory step
  db/version         db_text version table                         } Kamailio: loaded at startup
  db/htable          db_text table for htable "users" (user=>pass) } into the in-memory htable
  tenants/bench.toml pbxd bootstrap tenant "bench": one extension per user, secret = MD5 HA1
"""
import hashlib
import os
import random
import string
import sys

REALM = "127.0.0.1"
out = sys.argv[1] if len(sys.argv) > 1 else "."
rnd = random.Random(20240601)
alpha = string.ascii_letters + string.digits
users = [(f"{u:04d}", "".join(rnd.choice(alpha) for _ in range(12))) for u in range(10000)]


def write(rel, text):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def csv(rows):
    return "SEQUENTIAL\n" + "".join(f"{u};{p}\n" for u, p in rows)


write("users.csv", csv(users[1000:2000]))
write("users_mem.csv", csv(users))

write("db/version", "id(int,auto) table_name(string) table_version(int) \n0:version:1\n0:htable:2\n")
write(
    "db/htable",
    "id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int) \n"
    + "".join(f"{i}:{u}:0:0:{p}:0\n" for i, (u, p) in enumerate(users, 1)),
)

lines = [
    "[tenant]",
    'name = "Bench"',
    f'domains = ["{REALM}"]',
    'timezone = "UTC"',
    "extension_digits = 4",
]
for u, p in users:
    ha1 = hashlib.md5(f"{u}:{REALM}:{p}".encode()).hexdigest()
    lines += ["", "[[extension]]", f'number = "{u}"', f'name = "User {u}"', f'secret = {{ ha1 = "{ha1}" }}']
write("tenants/bench.toml", "\n".join(lines) + "\n")
print(f"wrote {len(users)} users to {out}", file=sys.stderr)
