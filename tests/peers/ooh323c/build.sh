#!/usr/bin/env bash
# Builds ooh323c's test endpoint `simple` (Objective Systems' open-source H.323 stack,
# 2016 snapshot; no distribution packages it) into DEST (default var/peers/ooh323c): the
# independent H.323 peer of the tests. Copied from ../shared/peers/build-ooh323c.sh with
# the source beside it, so the project owns what its tests need. Needs cmake, gcc, make
# (scripts/install-system-deps.sh installs them). Prints the path of `simple`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:-$HERE/../../../var/peers/ooh323c}
rm -rf "$DEST" && mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
tar -xzf "$HERE/ooh323c-src.tar.gz" -C "$DEST"
cd "$DEST/ooh323c"
# `simple` starts in audio-call mode; in video mode it also opens its H.264 channel
sed -i 's/ooH323EpInitialize(OO_CALLMODE_AUDIOCALL/ooH323EpInitialize(OO_CALLMODE_VIDEOCALL/' tests/simple/simple.c
# Its media glue treats every channel as G.711 audio (it would start a second "microphone"
# for the video channel and crash): video channels are signalled, their media left out.
sed -i 's/^   ooCreateReceiveRTPChannel(pChannel->localIP,/   if (pChannel->chanCap->capType == OO_CAP_TYPE_VIDEO) return OO_OK;\n&/' tests/simple/simple.c
sed -i 's/^   ooCreateTransmitRTPChannel (pChannel->remoteIP/   if (pChannel->chanCap->capType == OO_CAP_TYPE_VIDEO) return OO_OK;\n&/' tests/simple/simple.c
sed -i 's/^   ooStopReceiveAudioAndPlayback();/   if (pChannel->chanCap->capType == OO_CAP_TYPE_VIDEO) return OO_OK;\n&/' tests/simple/simple.c
sed -i 's/^   ooStopTransmitMic();/   if (pChannel->chanCap->capType == OO_CAP_TYPE_VIDEO) return OO_OK;\n&/' tests/simple/simple.c
mkdir -p build && cd build
# GCC >= 10 defaults to -fno-common, which breaks its link ("multiple definition of media")
cmake .. -DCMAKE_C_FLAGS="-fcommon -w" >/dev/null
make -j2 simple oomedia_SHARED >/dev/null 2>&1
cp ../lib/liboomedia.so tests/simple/ 2>/dev/null || cp "$(find .. -name 'liboomedia.so' | head -1)" tests/simple/
# Its microphone and speaker without a sound card (see fakedsp.c)
cc -shared -fPIC -O2 -o tests/simple/libfakedsp.so "$HERE/fakedsp.c" -ldl
echo "$DEST/ooh323c/build/tests/simple/simple"
