#!/bin/sh
# The Asterisk container's start: this folder's configuration (mounted read-only at
# /etc/asterisk-cti) copied to /etc/asterisk with the site's values from the environment (.env
# through docker-compose.yml) put in place of its placeholders, then Asterisk in the foreground.
#
# The files in the repository stay the reference a test reads (tests/asterisk_config); only the
# copy holds secrets. Each value must be one line; characters sed treats specially are escaped.
set -eu

SRC=${CTI_ASTERISK_CONFIG:-/etc/asterisk-cti}
DST=${ASTERISK_ETC:-/etc/asterisk}
EXTRA=${CTI_ASTERISK_EXTRA:-/usr/share/asterisk-cti}

need() {
    eval "value=\${$1:-}"
    if [ -z "$value" ]; then
        echo "asterisk: $1 is not set (see .env.example)" >&2
        exit 2
    fi
    case $value in *"
"*) echo "asterisk: $1 must be one line" >&2; exit 2 ;; esac
}

# sed's replacement text with \, & and the delimiter | escaped
quote() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# put VALUE in place of every OLD in FILE (OLD is a fixed placeholder, no regex characters but .)
put() { sed -i "s|$2|$(quote "$3")|g" "$DST/$1"; }

for var in AMI_SECRET CTI_NETWORK SIP_AGENT1_PASSWORD SIP_AGENT2_PASSWORD SIP_AGENT3_PASSWORD \
           SIP_SUPER1_PASSWORD SIP_EXTERNAL_ADDRESS; do
    need "$var"
done

cp "$SRC"/*.conf "$DST"/
cp "$EXTRA/asterisk.conf" "$EXTRA/logger.conf" "$DST"/

# manager.conf: AMI listens inside the compose network (the port is not published) and lets in
# the server nodes' network only.
put manager.conf 'CHANGE-ME-ami-secret' "$AMI_SECRET"
sed -i -e 's|^bindaddr = 127\.0\.0\.1$|bindaddr = 0.0.0.0|' \
       -e "s|^permit = 127\.0\.0\.1/255\.255\.255\.255$|permit = $(quote "$CTI_NETWORK")|" "$DST/manager.conf"

# pjsip.conf: the phones' passwords, the provider, and the address phones reach us at (the
# container's own address is not theirs to reach: Docker forwards the published ports).
put pjsip.conf 'CHANGE-ME-agent1' "$SIP_AGENT1_PASSWORD"
put pjsip.conf 'CHANGE-ME-agent2' "$SIP_AGENT2_PASSWORD"
put pjsip.conf 'CHANGE-ME-agent3' "$SIP_AGENT3_PASSWORD"
put pjsip.conf 'CHANGE-ME-super1' "$SIP_SUPER1_PASSWORD"
put pjsip.conf 'CHANGE-ME-provider-user' "${SIP_PROVIDER_USER:-CHANGE-ME-provider-user}"
put pjsip.conf 'CHANGE-ME-provider-password' "${SIP_PROVIDER_PASSWORD:-CHANGE-ME-provider-password}"
put pjsip.conf 'sip\.provider\.example' "${SIP_PROVIDER_HOST:-sip.provider.example}"
put pjsip.conf '203\.0\.113\.10' "${SIP_PROVIDER_ADDRESS:-203.0.113.10}"
sed -i -e "s|^;local_net = 192\.168\.0\.0/16$|local_net = $(quote "$CTI_NETWORK")|" \
       -e "s|^;external_media_address = 198\.51\.100\.7$|external_media_address = $(quote "$SIP_EXTERNAL_ADDRESS")|" \
       -e "s|^;external_signaling_address = 198\.51\.100\.7$|external_signaling_address = $(quote "$SIP_EXTERNAL_ADDRESS")|" \
       "$DST/pjsip.conf"

if grep -n 'CHANGE-ME-\(ami\|agent\|super\)' "$DST"/*.conf >&2; then
    echo "asterisk: placeholders left (above)" >&2
    exit 2
fi
for want in "bindaddr = 0.0.0.0" "external_media_address = $SIP_EXTERNAL_ADDRESS"; do
    grep -qF "$want" "$DST/manager.conf" "$DST/pjsip.conf" || {
        echo "asterisk: could not set '$want': has the configuration's layout changed?" >&2; exit 2; }
done

exec "$@"
