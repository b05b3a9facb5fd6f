#!/usr/bin/env bash
# Re-record the llama-server exchanges in this folder (see README.md):
#   bash scripts/local-model start && bash tests/data/llamacpp/record.sh [BASE_URL]
# BASE_URL defaults to `scripts/local-model url`. Writes NAME.request.json and the reply body
# byte for byte (NAME.json, or NAME.sse for streams); prints each HTTP status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${1:-$(bash "$here/../../../scripts/local-model" url)}
base=${base%/}

# record NAME PATH EXPECTED_STATUS EXT: POST NAME.request.json to PATH, keep the body as NAME.EXT.
record() {
    local name=$1 path=$2 expected=$3 ext=$4 status
    status=$(curl -sS -N -o "$here/$name.$ext" -w '%{http_code} %{content_type}' \
        -H 'Content-Type: application/json' --data-binary "@$here/$name.request.json" "$base$path")
    echo "$name: $status"
    [ "${status%% *}" = "$expected" ] || { echo "expected $expected" >&2; exit 1; }
}

# request NAME JSON: write the request body, compact (what is sent is exactly this file).
request() { printf '%s\n' "$2" >"$here/$1.request.json"; }

text='"model":"smollm2","input":"Say hello in five words.","max_output_tokens":24,"temperature":0'
chat='"model":"smollm2","messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":24,"temperature":0'
schema='{"type":"object","properties":{"name":{"type":"string"},"population":{"type":"integer"}},"required":["name","population"],"additionalProperties":false}'

request responses_text "{$text}"
request responses_text_stream "{$text,\"stream\":true}"
request chat_text "{$chat}"
request chat_text_stream "{$chat,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
request responses_structured "{\"model\":\"smollm2\",\"input\":\"Name a city and its population.\",\"max_output_tokens\":48,\"temperature\":0,\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"city\",\"schema\":$schema,\"strict\":true}}}"
request chat_structured "{\"model\":\"smollm2\",\"messages\":[{\"role\":\"user\",\"content\":\"Name a city and its population.\"}],\"max_tokens\":48,\"temperature\":0,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"city\",\"schema\":$schema,\"strict\":true}}}"
# Valid by the spec (an EasyInputMessage needs no "type"), but llama-server wants "type":"message" on
# assistant items (user/system/developer items without it are accepted).
request responses_error_400 '{"model":"smollm2","input":[{"role":"assistant","content":"Hello!"},{"role":"user","content":"Say hello in five words."}],"max_output_tokens":24}'

record responses_text /responses 200 json
record responses_text_stream /responses 200 sse
record chat_text /chat/completions 200 json
record chat_text_stream /chat/completions 200 sse
record responses_structured /responses 200 json
record chat_structured /chat/completions 200 json
record responses_error_400 /responses 400 json
