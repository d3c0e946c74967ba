#!/usr/bin/env bash
# Makes the keys, the genesis and one node home per host for the five-host example network:
# three hospitals and the ministry validate, the regulator observes. For a lab, or to see every
# step in one place: in production each host runs `medledger keys generate` itself and sends only
# its peer id and encryption key (README.md here). Each <out>/<name>/ is that host's home
# (/var/lib/medledger): copy it there with its modes (0600 key and tokens).
#
# usage: make-network.sh <out dir> [chain id]
# environment: IPS="10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.14 10.0.0.15" (in the order of NAMES),
#              MEDLEDGER="the medledger command" (default: the project's, run by its Node 24)
set -euo pipefail
out=${1:?usage: make-network.sh <out dir> [chain id]}
chain=${2:-national-health}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
read -r -a medledger <<< "${MEDLEDGER:-$root/node_modules/.bin/node $root/bin/medledger.js}"
names=(hospital-a hospital-b hospital-c ministry regulator)
roles=(validator validator validator validator observer)
read -r -a ips <<< "${IPS:-10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.14 10.0.0.15}"
port=26656
[ "${#ips[@]}" -eq 5 ] || { echo "IPS must list 5 addresses" >&2; exit 2; }
[ ! -e "$out" ] || { echo "$out exists: refusing to overwrite keys" >&2; exit 2; }
mkdir -p "$out/keys"
chmod 700 "$out/keys"

# 1. A key per host; the peer id and encryption key are what the genesis needs.
declare -a peers encs pids
for i in "${!names[@]}"; do
  "${medledger[@]}" keys generate --out "$out/keys/${names[$i]}.key" > "$out/keys/${names[$i]}.json" &
  pids[$i]=$!
done
for i in "${!names[@]}"; do
  wait "${pids[$i]}"
  peers[$i]=$(sed -n 's/.*"peerId": *"\([^"]*\)".*/\1/p' "$out/keys/${names[$i]}.json")
  encs[$i]=$(sed -n 's/.*"encryptionKey": *"\([^"]*\)".*/\1/p' "$out/keys/${names[$i]}.json")
done

# 2. The genesis: every member by name and peer id, validators' encryption keys.
args=(genesis create --chain-id "$chain" --out "$out/genesis.json")
for i in "${!names[@]}"; do
  if [ "${roles[$i]}" = validator ]; then
    args+=(--validator "${names[$i]}=${peers[$i]}" --encryption-key "${names[$i]}=${encs[$i]}")
  else
    args+=(--observer "${names[$i]}=${peers[$i]}")
  fi
done
"${medledger[@]}" "${args[@]}" >/dev/null

# 3. A home per host: listens on every interface, dials the other four, API on loopback.
for i in "${!names[@]}"; do
  boot=()
  for j in "${!names[@]}"; do
    [ "$i" -eq "$j" ] || boot+=(--bootstrap "/ip4/${ips[$j]}/tcp/$port/p2p/${peers[$j]}")
  done
  "${medledger[@]}" init --home "$out/${names[$i]}" --genesis "$out/genesis.json" --key "$out/keys/${names[$i]}.key" \
    --role "${roles[$i]}" --p2p-listen "/ip4/0.0.0.0/tcp/$port" --api-listen 127.0.0.1:8080 "${boot[@]}" >/dev/null &
  pids[$i]=$!
done
for i in "${!names[@]}"; do
  wait "${pids[$i]}"
  echo "${names[$i]} ${roles[$i]} ${ips[$i]} ${peers[$i]} -> $out/${names[$i]}"
done
