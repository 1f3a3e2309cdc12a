package offload

import (
	"errors"
	"fmt"
	"math"
)

// predictRow is the leaf value the tree gives row (len(row) > every split feature; the
// tree must pass Check).
func predictRow(t *ForestTree, row []float32) float32 {
	i := 0
	for t.Feature[i] >= 0 {
		if row[t.Feature[i]] <= t.Threshold[i] {
			i = int(t.Left[i])
		} else {
			i = int(t.Right[i])
		}
	}
	return t.Value[i]
}

// predictTrees is a test oracle, offload-core's Forest::predict redone in Go (kept out of
// the package API: core holds the one implementation): for each row of x (rows ×
// nFeatures float32, row-major) the sum in f64, tree by tree in order (starting from −0 as
// Rust's f64 Sum does), of the trees' leaf values, divided by the number of trees. Given a
// forest's trees it equals the native prediction bit for bit. Errors: no trees, a width
// that is not a multiple of nFeatures, a tree that fails Check.
func predictTrees(trees []ForestTree, x []float32, nFeatures int) ([]float64, error) {
	if len(trees) == 0 {
		return nil, errors.New("predict: no trees")
	}
	if nFeatures <= 0 || len(x)%nFeatures != 0 {
		return nil, fmt.Errorf("predict: %d values are not rows of %d features", len(x), nFeatures)
	}
	for i := range trees {
		if err := trees[i].Check(nFeatures); err != nil {
			return nil, fmt.Errorf("predict: tree %d: %w", i, err)
		}
	}
	out := make([]float64, len(x)/nFeatures)
	for r := range out {
		row := x[r*nFeatures : (r+1)*nFeatures]
		s := math.Copysign(0, -1)
		for i := range trees {
			s += float64(predictRow(&trees[i], row))
		}
		out[r] = s / float64(len(trees))
	}
	return out, nil
}
