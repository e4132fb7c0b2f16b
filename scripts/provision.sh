#!/bin/sh
# Installs what the tests need beyond npm packages, on a Debian/Ubuntu machine: Chromium (the app's browser
# tests) and python3-onnx (the official ONNX checker). A no-op when both are present; `npm test` and .ci/run
# (through `npm test`) call it. Without root or password-less sudo it prints the one command to run and fails.
set -eu

need=""
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || need="$need chromium"
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need="$need python3-onnx"
[ -z "$need" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "provision: the tests need$need (Debian package names) and this machine has no apt-get: install them, then run npm test again" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=sudo
else
  echo "provision: the tests need$need: run \`sudo apt-get update && sudo apt-get install -y$need\`, then npm test again" >&2
  exit 1
fi

echo "provision: installing$need with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need
