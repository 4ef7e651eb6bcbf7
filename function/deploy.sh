#!/usr/bin/env bash
# Deploy (or update) dns-failover in every listed region with tccli, no Node
# needed: the function (code + configuration), its every-minute timer, and
# no platform retry of failed asynchronous (timer) runs.
#
# Usage: function/deploy.sh [--dry-run] --regions ap-guangzhou,ap-shanghai[,...]
#            [--zip dist/dns-failover.zip] [--name dns-failover]
#            [--role SCF_DnsFailoverRole] [--timeout 30] [--memory 64]
#            [--env KEY=VALUE]... [--namespace default]
#
#   --dry-run   print every tccli call (one per line, `tccli scf ...`) and
#               run none; code-carrying calls show their request file with
#               the base64 zip elided.
#   --env       an environment variable of the function (repeatable); the
#               default is RUST_LOG=info. Every ${VAR} the config uses must
#               be given here (e.g. --env WECOM_WEBHOOK="$WECOM_WEBHOOK").
#
# Per region:
#   1. GetFunction: absent -> CreateFunction (CustomRuntime, Event, the zip);
#      present -> UpdateFunctionCode, then UpdateFunctionConfiguration
#      (memory, timeout, init timeout, role, environment);
#   2. wait until the function is Active (GetFunction Status);
#   3. ListTriggers: the timer exists -> UpdateTrigger, else CreateTrigger
#      (`0 */1 * * * * *`, OPEN, qualifier $DEFAULT);
#   4. UpdateFunctionEventInvokeConfig RetryNum 0: a failed timer run is not
#      retried by the platform; the next minute's run is the retry
#      (docs/deploy.md, "Platform retries").
#
# Needs: tccli (pip install tccli, in a venv), configured with the
# deploying account's keys (`tccli configure`), python3, base64.
# API reference: tccli's scf 2018-04-16 spec; https://cloud.tencent.com/document/api/583
set -euo pipefail

dry_run=0
regions=""
zip="dist/dns-failover.zip"
name="dns-failover"
role="SCF_DnsFailoverRole"
timeout=30
init_timeout=10
memory=64
namespace="default"
trigger="dns-failover-every-minute"
cron="0 */1 * * * * *"
envs=()

die() { echo "deploy.sh: error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --regions) regions="${2:?--regions needs a value}"; shift ;;
        --zip) zip="${2:?--zip needs a value}"; shift ;;
        --name) name="${2:?--name needs a value}"; shift ;;
        --role) role="${2:?--role needs a value}"; shift ;;
        --timeout) timeout="${2:?--timeout needs a value}"; shift ;;
        --memory) memory="${2:?--memory needs a value}"; shift ;;
        --namespace) namespace="${2:?--namespace needs a value}"; shift ;;
        --env) envs+=("${2:?--env needs KEY=VALUE}"); shift ;;
        -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
[ -n "$regions" ] || die "--regions is required, e.g. --regions ap-guangzhou,ap-shanghai"
[ -f "$zip" ] || die "$zip not found; run function/build.sh first"
case "$timeout" in ''|*[!0-9]*) die "--timeout takes whole seconds (1-900)" ;; esac
case "$memory" in ''|*[!0-9]*) die "--memory takes megabytes (64, 128, 256, ...)" ;; esac
[ ${#envs[@]} -gt 0 ] || envs=("RUST_LOG=info")
for kv in "${envs[@]}"; do
    case "$kv" in *=*) ;; *) die "--env takes KEY=VALUE, got $kv" ;; esac
done
if [ "$dry_run" = 0 ]; then
    command -v tccli >/dev/null 2>&1 || die "tccli not found (python3 -m venv ~/.tccli && ~/.tccli/bin/pip install tccli)"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The function's environment as the API's JSON ({"Variables":[{Key,Value}]}).
environment="$(python3 -c '
import json, sys
print(json.dumps({"Variables": [dict(zip(("Key", "Value"), kv.split("=", 1))) for kv in sys.argv[1:]]}))
' "${envs[@]}")"

# Show a call (always) and run it (unless --dry-run). Values that are secrets
# in --env are shown as ***.
call() {
    local shown=()
    for a in "$@"; do
        case "$a" in
            --Environment) shown+=("$a"); skip_env=1; continue ;;
        esac
        if [ "${skip_env:-0}" = 1 ]; then
            shown+=("'$(python3 -c '
import json, sys
e = json.loads(sys.argv[1])
for v in e["Variables"]:
    if v["Key"] != "RUST_LOG":
        v["Value"] = "***"
print(json.dumps(e))' "$a")'")
            skip_env=0
            continue
        fi
        case "$a" in
            *" "*|*'$'*|*'{'*) shown+=("'$a'") ;;
            *) shown+=("$a") ;;
        esac
    done
    echo "tccli ${shown[*]}"
    if [ "$dry_run" = 0 ]; then
        tccli "$@" >/dev/null
    fi
}

# A request file for calls that carry the zip (too big for one argument).
request_file() { # $1 = path, $2 = JSON without the code, $3 = key path for the zip
    python3 - "$1" "$2" "$3" "$zip" <<'PY'
import base64, json, sys
path, body, where, zip_path = sys.argv[1:]
req = json.loads(body)
code = base64.b64encode(open(zip_path, "rb").read()).decode()
if where == "Code.ZipFile":
    req.setdefault("Code", {})["ZipFile"] = code
else:
    req[where] = code
json.dump(req, open(path, "w"))
shown = json.loads(body)
for v in shown.get("Environment", {}).get("Variables", []):
    if v["Key"] != "RUST_LOG":
        v["Value"] = "***"
note = f"<base64 of {zip_path}, {len(code)} characters>"
if where == "Code.ZipFile":
    shown.setdefault("Code", {})["ZipFile"] = note
else:
    shown[where] = note
print("#   " + json.dumps(shown, ensure_ascii=False))
PY
}

exists() { # $1 = region
    if [ "$dry_run" = 1 ]; then
        return 1
    fi
    tccli scf GetFunction --region "$1" --FunctionName "$name" --Namespace "$namespace" >/dev/null 2>&1
}

wait_active() { # $1 = region
    [ "$dry_run" = 1 ] && return 0
    local status=""
    for _ in $(seq 1 60); do
        status="$(tccli scf GetFunction --region "$1" --FunctionName "$name" --Namespace "$namespace" \
            | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Status",""))')"
        [ "$status" = "Active" ] && return 0
        case "$status" in *Failed*) die "$1: function status $status" ;; esac
        sleep 2
    done
    die "$1: function not Active after 120 s (status $status)"
}

trigger_exists() { # $1 = region
    [ "$dry_run" = 1 ] && return 1
    tccli scf ListTriggers --region "$1" --FunctionName "$name" --Namespace "$namespace" \
        | python3 -c 'import json,sys; t=json.load(sys.stdin).get("Triggers",[]); sys.exit(0 if any(x.get("TriggerName")==sys.argv[1] for x in t) else 1)' "$trigger"
}

IFS=',' read -r -a region_list <<<"$regions"
for region in "${region_list[@]}"; do
    echo "# == $region"
    echo "tccli scf GetFunction --region $region --FunctionName $name --Namespace $namespace"
    if [ "$dry_run" = 1 ]; then
        echo "# (dry run: the calls for both a new and an existing function follow)"
    fi
    if [ "$dry_run" = 1 ] || ! exists "$region"; then
        [ "$dry_run" = 1 ] && echo "# if the function does not exist:"
        req="$work/create-$region.json"
        body="$(python3 -c '
import json, sys
name, ns, role, t, it, mem, env = sys.argv[1:]
print(json.dumps({"FunctionName": name, "Namespace": ns, "Runtime": "CustomRuntime",
  "Type": "Event", "Handler": "bootstrap", "Role": role, "Timeout": int(t),
  "InitTimeout": int(it), "MemorySize": int(mem), "Environment": json.loads(env),
  "Description": "dns-failover: probe regions, fail DNS over (docs/deploy.md)"}))
' "$name" "$namespace" "$role" "$timeout" "$init_timeout" "$memory" "$environment")"
        echo "tccli scf CreateFunction --region $region --cli-input-json file://$req"
        request_file "$req" "$body" "Code.ZipFile"
        if [ "$dry_run" = 0 ]; then
            tccli scf CreateFunction --region "$region" --cli-input-json "file://$req" >/dev/null
        fi
    fi
    if [ "$dry_run" = 1 ] || exists "$region"; then
        [ "$dry_run" = 1 ] && echo "# if it exists:"
        if [ "$dry_run" = 1 ] || [ ! -f "$work/create-$region.json" ]; then
            req="$work/code-$region.json"
            body="$(python3 -c 'import json,sys; print(json.dumps({"FunctionName": sys.argv[1], "Namespace": sys.argv[2], "Handler": "bootstrap"}))' "$name" "$namespace")"
            echo "tccli scf UpdateFunctionCode --region $region --cli-input-json file://$req"
            request_file "$req" "$body" "ZipFile"
            if [ "$dry_run" = 0 ]; then
                tccli scf UpdateFunctionCode --region "$region" --cli-input-json "file://$req" >/dev/null
            fi
            wait_active "$region"
            call scf UpdateFunctionConfiguration --region "$region" --FunctionName "$name" \
                --Namespace "$namespace" --MemorySize "$memory" --Timeout "$timeout" \
                --InitTimeout "$init_timeout" --Role "$role" --Environment "$environment"
        fi
    fi
    wait_active "$region"
    echo "tccli scf ListTriggers --region $region --FunctionName $name --Namespace $namespace"
    if [ "$dry_run" = 0 ] && trigger_exists "$region"; then
        call scf UpdateTrigger --region "$region" --FunctionName "$name" --Namespace "$namespace" \
            --TriggerName "$trigger" --Type timer --Qualifier '$DEFAULT' \
            --TriggerDesc "$cron" --Enable OPEN
    else
        [ "$dry_run" = 1 ] && echo "# if the timer does not exist (else UpdateTrigger with the same values):"
        call scf CreateTrigger --region "$region" --FunctionName "$name" --Namespace "$namespace" \
            --TriggerName "$trigger" --Type timer --Qualifier '$DEFAULT' \
            --TriggerDesc "$cron" --Enable OPEN
    fi
    call scf UpdateFunctionEventInvokeConfig --region "$region" --FunctionName "$name" \
        --Namespace "$namespace" --AsyncTriggerConfig '{"RetryConfig":[{"RetryNum":0}],"MsgTTL":21600}'
done
