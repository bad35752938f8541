#!/bin/sh
# The proxy's start: a self-signed certificate on the first start (kept in the proxy-tls volume,
# so browsers see the same one after a restart), then nginx in the foreground.
set -eu

TLS=${CTI_TLS_DIR:-/etc/nginx/tls}
mkdir -p /tmp/nginx
if [ ! -s "$TLS/cert.pem" ] || [ ! -s "$TLS/key.pem" ]; then
    name=${CTI_PUBLIC_NAME:-localhost}
    echo "proxy: no certificate in $TLS: making a self-signed one for $name (replace it with your own)"
    case $name in
        *[!0-9.]*) alt="DNS:$name" ;;  # a host name
        *) alt="IP:$name" ;;           # an IPv4 address
    esac
    umask 077
    # openssl's progress dots stay out of the log unless it fails
    if ! openssl req -x509 -newkey rsa:3072 -sha256 -days 825 -nodes \
            -keyout "$TLS/key.pem" -out "$TLS/cert.pem" -subj "/CN=$name" \
            -addext "subjectAltName=$alt,DNS:localhost,IP:127.0.0.1" 2>/tmp/nginx/openssl.log; then
        cat /tmp/nginx/openssl.log >&2
        exit 1
    fi
fi
exec "$@"
