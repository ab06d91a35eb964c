/* tests/unit/test-fbagg.c: every satisfaction formula of CONTRACT.md
 * section 3 against values computed by hand in the comments. */
#include "check.h"
#include "index/fbagg.h"

static const double W[_RATER_DIM_MAX] = {
        [RATER_RELIABILITY] = 0.32, [RATER_ASSURANCE] = 0.19, [RATER_TANGIBLES] = 0.11,
        [RATER_EMPATHY] = 0.16,     [RATER_RESPONSIVENESS] = 0.22,
};

static Event fb(uint32_t score, uint32_t scale) {
        return (Event){.kind = EVENT_FEEDBACK, .score = score, .scale = scale};
}

static double val(const FbAgg *a, IndexId id, uint64_t *samples, bool *has) {
        double v;
        uint64_t s;
        *has = fbagg_value(a, id, W, &v, &s);
        if (samples)
                *samples = s;
        return v;
}

int main(void) {
        FbAgg a = {0}, b = {0};
        Event e;
        bool has;
        uint64_t s;
        double v;

        /* Empty: counts are 0, means are null. */
        v = val(&a, IDX_FEEDBACK_COUNT, &s, &has);
        CHECK(has && v == 0 && s == 0, "empty count");
        val(&a, IDX_SATISFACTION, NULL, &has);
        CHECK(!has, "empty satisfaction is null");
        val(&a, IDX_NPS, NULL, &has);
        CHECK(!has, "empty nps is null");
        val(&a, IDX_RATER_INDEX, NULL, &has);
        CHECK(!has, "empty rater_index is null");

        /* norm: 5 of 5 -> 100, 1 of 5 -> 0, 3 of 5 -> 50, 7 of 10 -> 66.67. */
        CHECK_NEAR(fbagg_norm(5, 5), 100, 1e-12, "norm 5/5");
        CHECK_NEAR(fbagg_norm(1, 5), 0, 1e-12, "norm 1/5");
        CHECK_NEAR(fbagg_norm(3, 5), 50, 1e-12, "norm 3/5");
        CHECK_NEAR(fbagg_norm(7, 10), 600.0 / 9, 1e-12, "norm 7/10");

        /* Scores 5/5, 4/5, 2/5, 9/10, 8/10:
         * norms 100, 75, 25, 800/9, 700/9 -> mean (200 + 1500/9) / 5 = 73.333...
         * csat: 5/5 yes, 4/5 yes, 2/5 no, 9/10 yes, 8/10 no -> 60 %. */
        fbagg_add(&a, &(Event){.score = 5, .scale = 5});
        fbagg_add(&a, &(Event){.score = 4, .scale = 5});
        fbagg_add(&a, &(Event){.score = 2, .scale = 5});
        fbagg_add(&a, &(Event){.score = 9, .scale = 10});
        fbagg_add(&a, &(Event){.score = 8, .scale = 10});
        v = val(&a, IDX_SATISFACTION, &s, &has);
        CHECK(has && s == 5, "satisfaction samples");
        CHECK_NEAR(v, (200 + 1500.0 / 9) / 5, 1e-9, "satisfaction");
        CHECK_NEAR(val(&a, IDX_CSAT, NULL, &has), 60, 1e-9, "csat");
        CHECK_NEAR(val(&a, IDX_FEEDBACK_COUNT, NULL, &has), 5, 0, "count");

        /* Scale 2: both points are the top two -> csat 100. */
        b = (FbAgg){0};
        fbagg_add(&b, &(Event){.score = 1, .scale = 2});
        CHECK_NEAR(val(&b, IDX_CSAT, NULL, &has), 100, 1e-9, "csat scale 2");
        CHECK_NEAR(val(&b, IDX_SATISFACTION, NULL, &has), 0, 1e-9, "satisfaction 1/2");

        /* NPS answers 10, 9, 8, 7, 6, 0: promoters 2, detractors 2 of 6 -> 0.
         * Then 10, 10, 3: promoters 2/3, detractors 1/3 -> 33.33. */
        b = (FbAgg){0};
        {
                uint32_t answers[] = {10, 9, 8, 7, 6, 0};
                for (size_t i = 0; i < 6; i++) {
                        e = fb(3, 5);
                        e.has_nps = true;
                        e.nps = answers[i];
                        fbagg_add(&b, &e);
                }
                v = val(&b, IDX_NPS, &s, &has);
                CHECK(has && s == 6, "nps samples");
                CHECK_NEAR(v, 0, 1e-9, "nps balanced");
        }
        {
                FbAgg c = {0};
                uint32_t answers[] = {10, 10, 3};
                for (size_t i = 0; i < 3; i++) {
                        e = fb(3, 5);
                        e.has_nps = true;
                        e.nps = answers[i];
                        fbagg_add(&c, &e);
                }
                e = fb(3, 5); /* no nps answer: not a sample */
                fbagg_add(&c, &e);
                v = val(&c, IDX_NPS, &s, &has);
                CHECK(s == 3, "nps ignores feedback without an answer");
                CHECK_NEAR(v, 100.0 / 3, 1e-9, "nps 2 promoters 1 detractor");
        }

        /* RATER: reliability 5/5 and 3/5 -> 100, 50 -> mean 75; empathy 2/5 ->
         * 25. rater_index = (0.32*75 + 0.16*25) / (0.32 + 0.16) = 28/0.48 =
         * 58.333... */
        b = (FbAgg){0};
        e = fb(4, 5);
        e.rater_mask = 1u << RATER_RELIABILITY | 1u << RATER_EMPATHY;
        e.rater[RATER_RELIABILITY] = 5;
        e.rater[RATER_EMPATHY] = 2;
        fbagg_add(&b, &e);
        e = fb(4, 5);
        e.rater_mask = 1u << RATER_RELIABILITY;
        e.rater[RATER_RELIABILITY] = 3;
        fbagg_add(&b, &e);
        CHECK_NEAR(val(&b, IDX_RATER_RELIABILITY, &s, &has), 75, 1e-9, "rater.reliability");
        CHECK(s == 2, "reliability samples");
        CHECK_NEAR(val(&b, IDX_RATER_EMPATHY, &s, &has), 25, 1e-9, "rater.empathy");
        val(&b, IDX_RATER_TANGIBLES, NULL, &has);
        CHECK(!has, "tangibles without samples is null");
        CHECK_NEAR(val(&b, IDX_RATER_INDEX, &s, &has), 28 / 0.48, 1e-9, "rater_index renormalised");
        CHECK(s == 2, "rater_index samples are feedback events with dimensions");

        /* All five at 10 of 10 on a 10 scale, one at 1: tangibles 0 ->
         * rater_index = 100 * (1 - 0.11) = 89. */
        b = (FbAgg){0};
        e = fb(10, 10);
        e.rater_mask = 0x1f;
        for (int d = 0; d < _RATER_DIM_MAX; d++)
                e.rater[d] = 10;
        e.rater[RATER_TANGIBLES] = 1;
        fbagg_add(&b, &e);
        CHECK_NEAR(val(&b, IDX_RATER_INDEX, NULL, &has), 89, 1e-9, "rater_index all five");

        /* Merge is addition: a window over two buckets equals one bucket
         * holding both. */
        {
                FbAgg x = {0}, y = {0}, both = {0};
                fbagg_add(&x, &(Event){.score = 5, .scale = 5});
                fbagg_add(&both, &(Event){.score = 5, .scale = 5});
                fbagg_add(&y, &(Event){.score = 1, .scale = 5});
                fbagg_add(&both, &(Event){.score = 1, .scale = 5});
                fbagg_merge(&x, &y);
                CHECK(memcmp(&x, &both, sizeof(x)) == 0, "merge equals joint aggregate");
                CHECK_NEAR(val(&x, IDX_SATISFACTION, NULL, &has), 50, 1e-9, "merged satisfaction");
        }
        CHECK_DONE();
}
