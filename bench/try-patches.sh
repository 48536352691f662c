#!/usr/bin/env bash
# Makes a scratch copy of this checkout (outside the repo) with candidate
# patches from bench/patches applied, and prints its path, for
#   npm run bench -- --server-root="$(bash bench/try-patches.sh bench/patches/1-sql-port.diff …)"
# The working tree itself is never touched. Remove the copy when done.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$(mktemp -d "${TMPDIR:-/tmp}/orders-bench-patched-XXXXXX")"
cd "$root"
cp -r src prisma schema.graphql package.json tsconfig.json prisma.config.ts "$dest"/
ln -s "$root/node_modules" "$dest/node_modules"
for patch in "$@"; do
  (cd "$dest" && patch -p1 --quiet < "$root/$patch") >&2
done
echo "$dest"
