package main

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/iamkit/iamkit/identity"
	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// TestParseFlagsLimits parses -api-rate and -audit-retention: their defaults are the server's
// usual limits, and a value they do not take is refused.
func TestParseFlagsLimits(t *testing.T) {
	for _, c := range []struct {
		name      string
		args      []string
		rate      store.Rate
		retention rbac.Retention
		wantErr   bool
	}{
		{name: "defaults", rate: store.Rate{Limit: 1200, Period: time.Minute}, retention: rbac.DefaultRetention()},
		{name: "rate", args: []string{"-api-rate", "100000/1s"}, rate: store.Rate{Limit: 100000, Period: time.Second}, retention: rbac.DefaultRetention()},
		{name: "rate in seconds", args: []string{"-api-rate", "120/60s"}, rate: store.Rate{Limit: 120, Period: time.Minute}, retention: rbac.DefaultRetention()},
		{name: "retention off", args: []string{"-audit-retention", "off"}, rate: store.Rate{Limit: 1200, Period: time.Minute}, retention: rbac.Retention{}},
		{name: "retention default", args: []string{"-audit-retention", "off", "-audit-retention", "default"}, rate: store.Rate{Limit: 1200, Period: time.Minute}, retention: rbac.DefaultRetention()},
		{name: "both", args: []string{"-audit-retention", "off", "-api-rate", "5/1h"}, rate: store.Rate{Limit: 5, Period: time.Hour}, retention: rbac.Retention{}},
		{name: "rate without period", args: []string{"-api-rate", "1200"}, wantErr: true},
		{name: "rate without count", args: []string{"-api-rate", "/1m"}, wantErr: true},
		{name: "rate period without unit", args: []string{"-api-rate", "1200/60"}, wantErr: true},
		{name: "rate zero", args: []string{"-api-rate", "0/1m"}, wantErr: true},
		{name: "rate negative", args: []string{"-api-rate", "-5/1m"}, wantErr: true},
		{name: "rate zero period", args: []string{"-api-rate", "10/0s"}, wantErr: true},
		{name: "rate negative period", args: []string{"-api-rate", "10/-1s"}, wantErr: true},
		{name: "retention other", args: []string{"-audit-retention", "30d"}, wantErr: true},
		{name: "retention empty", args: []string{"-audit-retention", ""}, wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseFlags(c.args, io.Discard)
			if c.wantErr {
				if err == nil {
					t.Fatalf("parseFlags(%q) accepted it: %+v", c.args, cfg)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", c.args, err)
			}
			if cfg.apiRate != c.rate || cfg.retention != c.retention {
				t.Fatalf("parseFlags(%q): rate %+v, retention %+v; want %+v, %+v", c.args, cfg.apiRate, cfg.retention, c.rate, c.retention)
			}
		})
	}
}

// TestParseRateErrors: a zero or negative rate is refused with store's out-of-range error,
// anything not N/period with errRate.
func TestParseRateErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"0/1m", store.ErrInvalid},
		{"1/0s", store.ErrInvalid},
		{"x/1m", errRate},
		{"1/x", errRate},
		{"1m", errRate},
	} {
		if _, err := parseRate(c.in); !errors.Is(err, c.want) {
			t.Errorf("parseRate(%q) = %v, want %v", c.in, err, c.want)
		}
	}
}

// TestExamplePlansWith sets the Enterprise plan's API rate and leaves the others' alone.
func TestExamplePlansWith(t *testing.T) {
	r := store.Rate{Limit: 7, Period: time.Second}
	def, got := examplePlans(), examplePlansWith(r)
	if len(def) != len(got) {
		t.Fatalf("%d plans, want %d", len(got), len(def))
	}
	for i := range got {
		want := def[i].APIRate
		if got[i].Name == identity.Enterprise().Name {
			want = r
			if def[i].APIRate != defaultEnterpriseAPIRate() {
				t.Errorf("default Enterprise API rate %+v", def[i].APIRate)
			}
		}
		if got[i].APIRate != want {
			t.Errorf("plan %s: API rate %+v, want %+v", got[i].Name, got[i].APIRate, want)
		}
	}
}
