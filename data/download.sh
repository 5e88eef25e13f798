#!/usr/bin/env bash
# Downloads a data set's official files into data/<dataset>/ and checks their published MD5 sums.
#   data/download.sh fashion-mnist|mnist|cifar10
# Needs internet access and curl (or wget). On Debian, FashionMNIST needs no download:
#   sudo apt-get install dataset-fashion-mnist   (files in /usr/share/datasets/fashion-mnist)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dataset=${1:-}

fetch() {  # url output
  if command -v curl >/dev/null; then curl -fL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null; then wget -O "$2" "$1"
  else echo "download.sh: needs curl or wget" >&2; exit 1; fi
}

check_md5() {  # file expected
  local actual
  actual=$(md5sum "$1" | cut -d' ' -f1)
  if [ "$actual" != "$2" ]; then
    echo "download.sh: MD5 of $1 is $actual, expected $2: the download is corrupt; removed it" >&2
    rm -f "$1"
    exit 1
  fi
  echo "ok  $1"
}

case "$dataset" in
  fashion-mnist)
    base=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com
    files=(train-images-idx3-ubyte.gz:8d4fb7e6c68d591d4c3dfef9ec88bf0d
           train-labels-idx1-ubyte.gz:25c81989df183df01b3e8a0aad5dffbe
           t10k-images-idx3-ubyte.gz:bef4ecab320f06d8554ea6380940ec79
           t10k-labels-idx1-ubyte.gz:bb300cfdad3c16e7a12a480ee83cd310) ;;
  mnist)
    base=https://ossci-datasets.s3.amazonaws.com/mnist
    files=(train-images-idx3-ubyte.gz:f68b3c2dcbeaaa9fbdd348bbdeb94873
           train-labels-idx1-ubyte.gz:d53e105ee54ea40749a09fcbcd1e9432
           t10k-images-idx3-ubyte.gz:9fb629c4189551a2d022fa330f9573f3
           t10k-labels-idx1-ubyte.gz:ec29112dd5afa0611ce80d1b7f02629c) ;;
  cifar10)
    base=https://www.cs.toronto.edu/~kriz
    files=(cifar-10-binary.tar.gz:c32a1d4ab5d03f1284b67883e8d87530) ;;
  *)
    echo "usage: data/download.sh fashion-mnist|mnist|cifar10" >&2
    exit 2 ;;
esac

dir="$here/$dataset"
mkdir -p "$dir"
for entry in "${files[@]}"; do
  name=${entry%%:*}
  md5=${entry##*:}
  if [ -f "$dir/$name" ] && [ "$(md5sum "$dir/$name" | cut -d' ' -f1)" = "$md5" ]; then
    echo "ok  $dir/$name (already there)"
    continue
  fi
  fetch "$base/$name" "$dir/$name.part"
  mv "$dir/$name.part" "$dir/$name"
  check_md5 "$dir/$name" "$md5"
done

if [ "$dataset" = cifar10 ]; then
  tar -xzf "$dir/cifar-10-binary.tar.gz" -C "$dir"
  echo "extracted $dir/cifar-10-batches-bin"
fi
echo "done: the programs find $dataset in $dir (or pass --data $dir)"
