package traceql

// MetricsFunc is the function of a TraceQL metrics query.
type MetricsFunc uint8

// Metrics functions.
const (
	MetricsRate              MetricsFunc = iota + 1 // rate()
	MetricsCountOverTime                            // count_over_time()
	MetricsMinOverTime                              // min_over_time(attr)
	MetricsMaxOverTime                              // max_over_time(attr)
	MetricsAvgOverTime                              // avg_over_time(attr)
	MetricsSumOverTime                              // sum_over_time(attr)
	MetricsQuantileOverTime                         // quantile_over_time(attr, q...)
	MetricsHistogramOverTime                        // histogram_over_time(attr)
)

// MetricsSpec is the metrics stage of a parsed query: `| rate() by (...)`.
type MetricsSpec struct {
	Func      MetricsFunc
	Attr      string    // the measured attribute as written ("duration", "span.size"); empty for rate and count_over_time
	Quantiles []float64 // quantile_over_time only
	By        []string  // by() attributes as written ("resource.service.name", "name")
}
