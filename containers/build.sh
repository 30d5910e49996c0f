#!/usr/bin/env bash
# Build the babelsum Apptainer image from containers/babelsum.def.
#
#   containers/build.sh [IMAGE] [apptainer build options...]
#   containers/build.sh /project/images/babelsum.sif --fakeroot
#
# IMAGE defaults to babelsum.sif in the current folder. The recipe's arguments come from the
# environment when set: CUDA_IMAGE, TORCH_VERSION, TORCH_INDEX (e.g. TORCH_INDEX=
# https://download.pytorch.org/whl/cu126 for an older driver). Building needs the network
# (run it on a login node or a build node), and --fakeroot where you are not root.
set -euo pipefail

APPTAINER=${APPTAINER:-apptainer}
image=${1:-babelsum.sif}
[[ $# -gt 0 ]] && shift
case "$image" in /*) ;; *) image="$PWD/$image" ;; esac

if ! command -v "$APPTAINER" >/dev/null; then
    echo "error: $APPTAINER is not on PATH: load it (e.g. \`module load apptainer\`) or set APPTAINER" >&2
    exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"  # the recipe's %files paths are relative to the repository root

build_args=(--build-arg "BABELSUM_COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
for name in CUDA_IMAGE TORCH_VERSION TORCH_INDEX; do
    if [[ -n "${!name:-}" ]]; then
        build_args+=(--build-arg "$name=${!name}")
    fi
done

echo "building $image from containers/babelsum.def" >&2
"$APPTAINER" build "${build_args[@]}" "$@" "$image" containers/babelsum.def
echo "built $image; use it with  container: {image: $image}  in a sweep config" >&2
