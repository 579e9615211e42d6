/*
 * score.h — the performance score (score.c).
 */
#ifndef PERFOPT_SCORE_H
#define PERFOPT_SCORE_H

#include "lib/stringinfo.h"

/* the breakdown as JSON into buf; returns the overall score (NaN: none) */
extern double perfopt_score_json(StringInfo buf);

#endif							/* PERFOPT_SCORE_H */
