#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu, with network).
# It installs Python 3.11 and the kit's pinned requirements into $ROOT/venv, and copies Fashion-MNIST,
# shipped inside this zip, to where Keras looks for it ($ROOT/keras), so grading never downloads anything.
# AUTOGRADER_ROOT (default /autograder) moves everything; AUTOGRADER_SKIP_INSTALL=1 only places the data.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive

install_python() {
    apt-get update -qq
    # bubblewrap: the sandbox the grader runs each notebook in.
    apt-get install -y -qq --no-install-recommends ca-certificates software-properties-common bubblewrap
    if ! python3.11 -c "import ensurepip, venv" >/dev/null 2>&1; then
        # TensorFlow and the pinned NumPy need Python 3.11; Ubuntu's own python3 may be older or newer.
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv
    fi
    python3.11 -m venv "$ROOT/venv"
    "$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
    "$ROOT/venv/bin/python" -m pip install --quiet -r "$SOURCE/requirements.txt"
}

if [ "${AUTOGRADER_SKIP_INSTALL:-0}" != "1" ]; then
    install_python
fi

DATA="$ROOT/keras/datasets/fashion-mnist"
mkdir -p "$DATA"
cp "$SOURCE"/data/fashion-mnist/*.gz "$DATA/"
echo "Fashion-MNIST is in $DATA"
