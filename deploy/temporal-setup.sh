#!/bin/sh
# One-shot set-up of the Temporal namespace for runflow (service `temporal-setup` in docker-compose.yml).
#
# Waits until the server answers and the namespace exists (temporalio/auto-setup creates it in the background
# after the server starts), then creates runflow's search attributes. Idempotent: the Temporal CLI accepts an
# attribute that already exists with the same type, so this runs on every `docker compose up`.
#
# Environment (read by the Temporal CLI itself): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE.
# SEARCH_ATTRIBUTES: space-separated Name=Type pairs, as `workflows.search_attributes.cli_flags()` has them.
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set}"
: "${TEMPORAL_NAMESPACE:?TEMPORAL_NAMESPACE is not set}"
: "${SEARCH_ATTRIBUTES:?SEARCH_ATTRIBUTES is not set}"
ATTEMPTS="${SETUP_ATTEMPTS:-90}"

wait_for() {  # wait_for DESCRIPTION COMMAND...: retry COMMAND every 2 s, ATTEMPTS times
    what="$1"
    shift
    n=1
    until "$@" >/dev/null 2>&1; do
        if [ "$n" -ge "$ATTEMPTS" ]; then
            echo "temporal-setup: gave up waiting for $what after $n attempts" >&2
            "$@" >&2 || true
            exit 1
        fi
        n=$((n + 1))
        sleep 2
    done
    echo "temporal-setup: $what"
}

wait_for "the server at $TEMPORAL_ADDRESS is serving" temporal operator cluster health
wait_for "the namespace $TEMPORAL_NAMESPACE exists" temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE"

set --
for pair in $SEARCH_ATTRIBUTES; do
    name="${pair%%=*}"
    type="${pair#*=}"
    if [ -z "$name" ] || [ "$name" = "$pair" ] || [ -z "$type" ]; then
        echo "temporal-setup: SEARCH_ATTRIBUTES: $pair is not Name=Type" >&2
        exit 1
    fi
    set -- "$@" --name "$name" --type "$type"
done

# The namespace may be visible a moment before its search attributes can be changed: retry the create as well.
wait_for "search attributes $SEARCH_ATTRIBUTES" \
    temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" "$@"
temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE"
