//go:build !unix

package sso

import "time"

// processCPU is not measured here; benchmarks report cpu-ns/op as 0.
func processCPU() time.Duration { return 0 }
