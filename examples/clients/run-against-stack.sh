#!/usr/bin/env bash
# Starts the agency simulator and a brokerd made by `brokerd init` (a fresh
# development PKI), turns the case system's PEM certificate and key into a
# PKCS#12 keystore for Java (the commands docs/integration.md gives), then
# runs the Python and the Java sample clients against it: each verifies the
# three households of households.json and checks every report's signature
# offline, with no project code. Used by CTest (tests/clients); also by hand:
#   examples/clients/run-against-stack.sh build/dev/broker/brokerd \
#     build/dev/simulator/agency-sim demo/dataset.json /tmp/hfv-clients
set -euo pipefail
brokerd=$1 sim=$2 dataset=$3 work=$4
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"
mkdir -p "$work/java-classes" "$work/reports-python" "$work/reports-java"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
wait_for_file() {  # file, seconds
  for _ in $(seq 1 $(( $2 * 20 ))); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "clients: timed out waiting for $1" >&2; return 1
}

# Compile the Java sample while the stack starts.
javac -d "$work/java-classes" "$here/java/HfvClient.java" &
javac_pid=$!

"$sim" --dataset "$dataset" --listen 127.0.0.1:0 --port-file "$work/sim.port" 2>"$work/sim.log" &
pids+=($!)
wait_for_file "$work/sim.port" 30
"$brokerd" init --dir "$work/broker" --listen 127.0.0.1:0 \
  --agency-url "http://127.0.0.1:$(cat "$work/sim.port")" >"$work/init.log"
"$brokerd" run --config "$work/broker/brokerd.json" 2>"$work/brokerd.log" &
pids+=($!)
wait_for_file "$work/broker/run/brokerd.port" 60
url="https://127.0.0.1:$(cat "$work/broker/run/brokerd.port")"
pki="$work/broker/pki"

echo "== Python sample (standard library + openssl) =="
python3 "$here/python/hfv_client.py" --url "$url" --ca "$pki/ca.pem" \
  --cert "$pki/demo-case-system.pem" --key "$pki/demo-case-system.key" \
  --operator sample-operator-py --households "$here/households.json" \
  --reference-date 2024-11-01 --out "$work/reports-python" | tee "$work/python.out"

echo "== Java sample (JDK only: java.net.http, PKCS#12 keystore) =="
# PEM -> PKCS#12: the client's key and certificate in one keystore, the
# centre's CA in a truststore of its own.
openssl pkcs12 -export -name hfv-client -in "$pki/demo-case-system.pem" -inkey "$pki/demo-case-system.key" \
  -out "$work/client.p12" -passout pass:changeit
keytool -importcert -noprompt -alias hfv-centre-ca -file "$pki/ca.pem" \
  -keystore "$work/truststore.p12" -storetype PKCS12 -storepass changeit >/dev/null
wait "$javac_pid"
# A different reference date: the same households again by the same caller
# would otherwise be answered with the earlier report (the repeat window).
java -cp "$work/java-classes" HfvClient --url "$url" --keystore "$work/client.p12" \
  --truststore "$work/truststore.p12" --password changeit --operator sample-operator-java \
  --households "$here/households.json" --reference-date 2024-11-02 --out "$work/reports-java" | tee "$work/java.out"

# Each sample exits non-zero on any failure; check also that each saw the
# three households' expected outcomes (the demo's: scripts/demo, README),
# and three signatures verified with the tampered copies refused.
for lang in python java; do
  outcomes=$(sed -n 's/^HRB-SAMPLE-000[0-9]: \([a-z]*\) .*/\1/p' "$work/$lang.out" | tr '\n' ' ')
  verified=$(grep -c 'signature verified, tampered copy refused$' "$work/$lang.out" || true)
  if [ "$outcomes" != "eligible ineligible indeterminate " ] || [ "$verified" != 3 ]; then
    echo "clients: the $lang sample saw outcomes '$outcomes' and $verified verified signatures" >&2
    exit 1
  fi
done
echo "clients: both samples verified the three households and their signatures"
