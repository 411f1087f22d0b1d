/** The value of one sample (`name{labels}`) in Prometheus text, or undefined when the series is absent. */
export function metricSample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
