/*
 * bucket.c — one token bucket of perfopt-httpd's rate limits: refill by
 * the time passed (a clock that goes back refills nothing), take one, or
 * say how many whole seconds until the next.
 */
#include "bucket.h"

#include <math.h>
#include <stddef.h>

#define HD_RETRY_MAX 86400

bool
hd_bucket_take(HdBucket *b, double now, double rate, double burst, int *retry_after)
{
	double		wait;

	if (retry_after)
		*retry_after = 1;
	if (b == NULL || !isfinite(now) || !isfinite(rate) || !isfinite(burst) ||
		rate <= 0 || burst < 1)
		return false;
	/* fresh, or damaged: full */
	if (b->last == 0 || !isfinite(b->last) || !isfinite(b->tokens))
	{
		b->tokens = burst;
		b->last = now;
	}
	else if (now > b->last)
	{
		/* a clock that goes back refills nothing */
		b->tokens += (now - b->last) * rate;
		b->last = now;
	}
	if (!(b->tokens <= burst))
		b->tokens = burst;
	if (b->tokens < 0)
		b->tokens = 0;
	if (b->tokens >= 1)
	{
		b->tokens -= 1;
		if (retry_after)
			*retry_after = 0;
		return true;
	}
	wait = (1 - b->tokens) / rate;
	if (retry_after)
	{
		if (!(wait < HD_RETRY_MAX))
			*retry_after = HD_RETRY_MAX;
		else
		{
			int			s = (int) wait;

			if (s < wait)
				s++;
			*retry_after = s < 1 ? 1 : s;
		}
	}
	return false;
}

