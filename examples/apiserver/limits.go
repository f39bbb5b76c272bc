package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamkit/iamkit/rbac"
	"github.com/iamkit/iamkit/store"
)

// defaultEnterpriseAPIRate is the API rate of the Enterprise plan (the bootstrapped account's)
// when -api-rate is not given: ten times ngrok's 120 requests per 60 s.
func defaultEnterpriseAPIRate() store.Rate { return store.Rate{Limit: 1200, Period: time.Minute} }

// addLimitFlags adds -api-rate and -audit-retention, which set cfg.apiRate and cfg.retention;
// their defaults are the server's usual limits.
func addLimitFlags(fs *flag.FlagSet, cfg *config) {
	cfg.apiRate = defaultEnterpriseAPIRate()
	cfg.retention = rbac.DefaultRetention()
	fs.Func("api-rate", "API rate of the Enterprise plan, the bootstrapped account's, as N/period (Go duration), all its credentials together (default: 1200/1m)", func(s string) error {
		r, err := parseRate(s)
		if err != nil {
			return err
		}
		cfg.apiRate = r
		return nil
	})
	fs.Func("audit-retention", "audit events every account keeps: default (90 days and 100,000 events) or off (every event, forever)", func(s string) error {
		r, err := parseRetention(s)
		if err != nil {
			return err
		}
		cfg.retention = r
		return nil
	})
}

// errRate is matched by the errors of parseRate.
var errRate = errors.New("want N/period, such as 1200/1m")

// parseRate parses a rate written N/period: a positive count, a slash, and a positive Go
// duration ("1200/1m", "100000/1s").
func parseRate(s string) (store.Rate, error) {
	n, period, ok := strings.Cut(s, "/")
	if !ok {
		return store.Rate{}, errRate
	}
	limit, err := strconv.Atoi(n)
	if err != nil {
		return store.Rate{}, errRate
	}
	d, err := time.ParseDuration(period)
	if err != nil {
		return store.Rate{}, errRate
	}
	r := store.Rate{Limit: limit, Period: d}
	if err := r.Validate(); err != nil {
		return store.Rate{}, err
	}
	return r, nil
}

// parseRetention parses -audit-retention: "default" is rbac.DefaultRetention, "off" the zero
// Retention, which keeps every event.
func parseRetention(s string) (rbac.Retention, error) {
	switch s {
	case "default":
		return rbac.DefaultRetention(), nil
	case "off":
		return rbac.Retention{}, nil
	}
	return rbac.Retention{}, fmt.Errorf("want default or off, got %q", s)
}
