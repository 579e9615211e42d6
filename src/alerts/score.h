/*
 * score.h — the performance score (score.c).
 */
#ifndef PERFOPT_SCORE_H
#define PERFOPT_SCORE_H

#include "lib/stringinfo.h"

/* the breakdown as JSON into buf; returns the overall score (NaN: none) */
extern double perfopt_score_json(StringInfo buf);

/* the score and its parts as Prometheus gauges into buf */
extern void perfopt_score_prometheus(StringInfo buf);

#endif							/* PERFOPT_SCORE_H */
