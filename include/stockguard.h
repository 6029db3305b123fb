/**
 * @file stockguard.h
 * @brief Umbrella header: include this one to get the whole public API.
 */
#ifndef STOCKGUARD_H
#define STOCKGUARD_H

#include "stockguard/common.h"
#include "stockguard/version.h"
#include "stockguard/policy.h"
#include "stockguard/filter.h"
#include "stockguard/entry.h"
#include "stockguard/hooks.h"
#include "stockguard/log.h"
#include "stockguard/marketplace.h"

#endif /* STOCKGUARD_H */
