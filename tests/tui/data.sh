# Step 3: choosing Fashion-MNIST test data shows the detected format, sample count, shape,
# label histogram and that it fits; a wrong-shape .npy shows an in-app error instead.
. "$(dirname "$0")/lib/tmux.sh"
IMG=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
[ -f "$IMG" ] || { echo "Fashion-MNIST test data not installed ($IMG)"; exit 77; }
P=$(demo_project)
/usr/bin/python3 -c "
import numpy as np, sys
np.save(sys.argv[1], np.zeros((10, 5), dtype=np.float32))" "$TMP/wrong.npy" || exit 77
start 80 24 -- --open "$P"
wait_for "─ 2 Model ─"
keys 3
wait_for "─ 3 Test data ─"
keys Enter
wait_for "Choose the test data"
keys -l "$IMG"
keys Enter
wait_for "data saved"
wait_for "Format idx"
wait_for "10000 samples of 28x28"
wait_for "fits the model's input"
wait_for "labels (first"
keys Enter
keys -l "$TMP/wrong.npy"
keys Enter
# The label file has 10000 entries: that mismatch is reported first.
wait_for "has 10000 labels"
keys Down
keys Enter
wait_for "Choose the labels file"
keys Escape
wait_for "no labels"
wait_for "does not fit the model's input"
keys q
wait_for "EXITED rc=0"
echo "data: ok"
