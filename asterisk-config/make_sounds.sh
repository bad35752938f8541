#!/bin/sh
# Make the only audio this configuration plays, so that no sound packages are needed:
#   moh/default-chime.ulaw       music on hold class "default" (a phone holds the call)
#   moh-cti/cti-queue.ulaw       music on hold class "cti" (the CTI hold and the fallback queue)
#   sounds/en/beep, beeperr      IVR prompts (extensions.conf CTI_PROMPT_*), transfer tones
#   sounds/en/pbx-transfer, pbx-invalid, privacy-incorrect
#                                prompts of attended transfers (without pbx-transfer the AMI
#                                Atxfer action fails with "Unable to acquire target extension")
# All 8 kHz mono mu-law, from sine tones and a little pink noise, made with sox.
#
# usage: sh make_sounds.sh [ASTDATADIR]     (default: $ASTDATADIR, else /var/lib/asterisk)
# Run it as root or as the user Asterisk runs as; the files only need to be readable by Asterisk.
set -eu

D=${1:-${ASTDATADIR:-/var/lib/asterisk}}
command -v sox >/dev/null 2>&1 || { echo "make_sounds.sh: sox is needed (apt-get install sox)" >&2; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
mkdir -p "$D/moh" "$D/moh-cti" "$D/sounds/en"

# hold music, class default: a two-note chime, four times
sox -n -r 8000 -c 1 -b 16 "$T/d1.wav" synth 0.6 sine 523 synth 0.6 sine mix 659 fade q 0.05 0.6 0.1 : synth 0.6 sine 392 fade q 0.05 0.6 0.1 : synth 0.8 pinknoise vol 0.02
sox "$T/d1.wav" -r 8000 -c 1 -e mu-law -t ul "$D/moh/default-chime.ulaw" repeat 4

# hold music, class cti: a rising arpeggio, three times, softer
sox -n -r 8000 -c 1 -b 16 "$T/c1.wav" synth 0.4 sine 440 fade q 0.02 0.4 0.05 : synth 0.4 sine 554 fade q 0.02 0.4 0.05 : synth 0.4 sine 659 fade q 0.02 0.4 0.05 : synth 0.8 sine 880 fade q 0.02 0.8 0.3 : synth 1.0 pinknoise vol 0.03
sox "$T/c1.wav" -r 8000 -c 1 -e mu-law -t ul "$D/moh-cti/cti-queue.ulaw" repeat 3 vol 0.5

# prompts and tones
sox -n -r 8000 -c 1 -e mu-law -t ul "$D/sounds/en/beep.ulaw" synth 0.25 sine 1000 fade q 0.01 0.25 0.02 vol 0.5
sox -n -r 8000 -c 1 -e mu-law -t ul "$D/sounds/en/beeperr.ulaw" synth 0.2 sine 480 : synth 0.2 sine 400 vol 0.5
sox -n -r 8000 -c 1 -e mu-law -t ul "$D/sounds/en/pbx-transfer.ulaw" synth 0.3 sine 660 fade q 0.01 0.3 0.02 : synth 0.3 sine 880 fade q 0.01 0.3 0.02 vol 0.5
sox -n -r 8000 -c 1 -e mu-law -t ul "$D/sounds/en/pbx-invalid.ulaw" synth 0.5 sine 350 vol 0.5
sox -n -r 8000 -c 1 -e mu-law -t ul "$D/sounds/en/privacy-incorrect.ulaw" synth 0.5 sine 300 vol 0.5

echo "make_sounds.sh: sounds written under $D"
