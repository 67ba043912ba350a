// metrics.js: reading Lambda's CloudWatch metrics with GetMetricData,
// many series in one call.

import { metrics } from './aws.js';

/**
 * metricData asks for series [{id, name, fn, stat}] of namespace AWS/Lambda
 * over [start, end] (ms) at period seconds, in one GetMetricData call per
 * 500 series, and returns {id: [{t, v}]}.
 */
export async function metricData(series, start, end, period = 60) {
  const out = {};
  for (let i = 0; i < series.length; i += 500) {
    const batch = series.slice(i, i + 500);
    let token;
    do {
      const res = await metrics('GetMetricData', {
        StartTime: Math.floor(start / 1000), EndTime: Math.ceil(end / 1000), ScanBy: 'TimestampAscending', NextToken: token,
        MetricDataQueries: batch.map((s) => ({
          Id: s.id, ReturnData: true,
          MetricStat: {
            Metric: { Namespace: 'AWS/Lambda', MetricName: s.name, Dimensions: [{ Name: 'FunctionName', Value: s.fn }] },
            Period: period, Stat: s.stat,
          },
        })),
      });
      for (const r of res.MetricDataResults || []) {
        const pts = (out[r.Id] ||= []);
        (r.Timestamps || []).forEach((t, k) => pts.push({ t: typeof t === 'number' ? t * 1000 : Date.parse(t), v: r.Values[k] }));
      }
      token = res.NextToken;
    } while (token);
  }
  return out;
}

/** total sums a series. */
export const total = (pts) => (pts || []).reduce((n, p) => n + p.v, 0);
