#!/usr/bin/env bash
# Regenerate the endpoint-entry audio prompts in mcu/prompts/ (committed; run only to change
# them). Needs espeak-ng and ffmpeg on this machine; the MCU, its tests and CI need neither.
#
#   bash scripts/make-prompts.sh
#
# Each prompt: espeak-ng (en-us) -> WAV, then ffmpeg -> mono 16 kHz signed 16-bit WAV with
# leading/trailing silence trimmed, inner pauses shortened, a 3.4 kHz low-pass (telephone
# band) and a little headroom. mcu/prompts/__init__.py upsamples to 48 kHz at load time.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=mcu/prompts
VOICE=${VOICE:-en-us}
SPEED=${SPEED:-180}  # words per minute: espeak-ng's default is 175; a brisk IVR pace

for tool in espeak-ng ffmpeg; do
    command -v "$tool" >/dev/null || { echo "make-prompts: $tool is not installed" >&2; exit 1; }
done

declare -A PROMPTS=(
    [enter_pin]="Please enter the conference PIN, followed by the hash key."
    [wrong_pin]="That PIN is not correct. Please try again."
    [enter_conference_id]="Welcome. Please enter the conference number, followed by the hash key."
    [unknown_conference]="There is no conference with that number. Please try again."
    [waiting_for_chair]="Please wait. The conference will start when the chairperson arrives."
    [locked]="PIN entry is locked. Please try again later."
    [goodbye]="Goodbye."
    [joining]="You are now joining the conference."
    [conference_ended]="The conference has ended."
    [timeout]="No digits were received."
    [waiting_for_admission]="Please wait to be admitted to the conference."
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Trim the silence at the start, shorten every inner pause longer than 150 ms (between
# sentences) to 100 ms, then trim the end (reverse, trim the start, reverse back): 16 kHz
# 16-bit is 32 kB/s, so every 100 ms counts; the player adds its own gaps between prompts.
# Then a telephone-band low-pass and a little headroom.
HEAD="silenceremove=start_periods=1:start_threshold=-45dB"
INNER="stop_periods=-1:stop_duration=0.15:stop_silence=0.1:stop_threshold=-45dB"
FILTER="$HEAD:$INNER,areverse,$HEAD,areverse,lowpass=f=3400,volume=-2dB"

for name in "${!PROMPTS[@]}"; do
    espeak-ng -v "$VOICE" -s "$SPEED" -w "$tmp/$name.wav" "${PROMPTS[$name]}"
    ffmpeg -hide_banner -loglevel error -y -i "$tmp/$name.wav" \
        -af "$FILTER" -ac 1 -ar 16000 -c:a pcm_s16le -map_metadata -1 -fflags +bitexact \
        -flags:a +bitexact "$OUT/$name.wav"
    printf '%-24s %6d bytes\n' "$name.wav" "$(stat -c %s "$OUT/$name.wav")"
done
