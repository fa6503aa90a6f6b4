#!/usr/bin/env bash
# Runs one RabbitMQ AMQP 1.0 contract check against a private broker started for it.
#
#   tests/contract/rabbitmq/run.sh roundtrip COUNT | bad-password | anonymous
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/lib/rabbitmq.sh
source "$here/../../lib/rabbitmq.sh"

work="$(mktemp -d)"
cleanup() {
    rabbitmq_stop
    rm -rf "$work"
}
trap cleanup EXIT

rabbitmq_start "$work/broker" contract
/usr/bin/python3 "$here/amqp_check.py" "$@"
