/* The message tables (see i18n.h). Every language lists every key: tests/replay checks. */
#include "i18n.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const en[MSG_COUNT] = {
	[MSG_SUMMARY] = "summary",
	[MSG_SETTINGS] = "settings",
	[MSG_MODE] = "mode",
	[MSG_WINDOW] = "window",
	[MSG_CAP] = "cap",
	[MSG_NONE] = "none",
	[MSG_MIN_STOCK] = "minimum stock",
	[MSG_DEFAULT] = "(default)",
	[MSG_NOT_IN_FEED] = "(not in the feed)",
	[MSG_ROWS] = "rows",
	[MSG_INTEGRATION_1] = "integration",
	[MSG_INTEGRATION_N] = "integrations",
	[MSG_PAIR_1] = "integration/SKU pair",
	[MSG_PAIR_N] = "integration/SKU pairs",
	[MSG_EXPORTS] = "exports",
	[MSG_SKIPS] = "skips",
	[MSG_CALLS_SAVED] = "API calls saved",
	[MSG_OF] = "of",
	[MSG_CALLS_PER_ROW] = "calls (one per row)",
	[MSG_WARN_ROW_1] = "row where a positive stock publishes 0",
	[MSG_WARN_ROW_N] = "rows where a positive stock publishes 0",
	[MSG_LOG] = "integration log",
	[MSG_LOG_ACCEPTS] = "in memory; the simulated marketplace accepts everything",
	[MSG_LOG_LIMITED] = "in memory; the simulated marketplace above",
	[MSG_CHANGES] = "changes",
	[MSG_ATTEMPTS] = "attempts",
	[MSG_SUCCESSES] = "successes",
	[MSG_CHANGE_1] = "change",
	[MSG_CHANGE_N] = "changes",
	[MSG_ENTRIES] = "entries",
	[MSG_LATENCY] = "latency",
	[MSG_MAX] = "max",
	[MSG_ABNORMAL] = "abnormal",
	[MSG_LATER_THAN_HOUR] = "(later than one hour)",
	[MSG_LATER_THAN] = "later than",
	[MSG_NONE_ACKED] = "none acknowledged",
	[MSG_MARKET] = "marketplace",
	[MSG_RATE] = "rate",
	[MSG_OTHERS] = "others",
	[MSG_NO_LIMIT] = "no limit",
	[MSG_ANSWERS_IN] = "answers in",
	[MSG_LATE_AFTER] = "late after",
	[MSG_CALLS] = "API calls",
	[MSG_BY_FILTER] = "by the filter",
	[MSG_BY_COALESCING] = "by coalescing",
	[MSG_ZEROS] = "stock-outs published",
	[MSG_ZEROS_DETAIL] = "calls that publish 0",
	[MSG_LATE] = "late updates",
	[MSG_OF_THEM_ZEROS] = "of them zeros",
	[MSG_DELAY] = "queue delay",
	[MSG_MEAN] = "mean",
	[MSG_FILTER_OFF] = "with the filter off",
	[MSG_R_TITLE] = "stockguard what-if report",
	[MSG_R_FEED] = "feed",
	[MSG_R_SPAN] = "time covered",
	[MSG_R_PER_HOUR] = "Exports and skips per hour, by reason",
	[MSG_R_HOURS_PER_BAR] = "h per bar",
	[MSG_R_SAVED_TITLE] = "API calls saved",
	[MSG_R_STOCKOUTS_TITLE] = "Stock-outs published and min_stock_reached warnings over time",
	[MSG_R_BLOCKED] = "the oversells the minimum blocked",
	[MSG_R_LATE_TITLE] = "Late updates under the simulated marketplace limit",
	[MSG_R_NO_MARKET] = "No marketplace limit simulated: every call is acknowledged at once (see --rate and --latency).",
	[MSG_R_PER_INTEGRATION] = "Per integration",
	[MSG_R_TOP_SKUS] = "SKUs with the most exports",
	[MSG_R_SWEEP_TITLE] = "Calls saved against oversells blocked, one point per setting",
	[MSG_R_SWEEP_TABLE] = "One run per combination",
	[MSG_R_HOUR] = "hour (UTC)",
	[MSG_R_SKU] = "SKU",
	[MSG_R_FILTER_ON] = "filter on",
	[MSG_R_WARNINGS] = "warnings",
	[MSG_R_SHARE] = "share",
	[MSG_COL_FILTER_OFF] = "filter off",
	[MSG_WHATIF] = "what-if",
	[MSG_COALESCED_ROWS] = "changes merged into a waiting call",
	[MSG_R_DELAY_TITLE] = "Longest queue delay per hour (ms)",
};

static const char *const pt[MSG_COUNT] = {
	[MSG_SUMMARY] = "resumo",
	[MSG_SETTINGS] = "configuração",
	[MSG_MODE] = "modo",
	[MSG_WINDOW] = "janela",
	[MSG_CAP] = "teto",
	[MSG_NONE] = "nenhum",
	[MSG_MIN_STOCK] = "estoque mínimo",
	[MSG_DEFAULT] = "(padrão)",
	[MSG_NOT_IN_FEED] = "(fora do feed)",
	[MSG_ROWS] = "linhas",
	[MSG_INTEGRATION_1] = "integração",
	[MSG_INTEGRATION_N] = "integrações",
	[MSG_PAIR_1] = "par integração/SKU",
	[MSG_PAIR_N] = "pares integração/SKU",
	[MSG_EXPORTS] = "exportações",
	[MSG_SKIPS] = "ignoradas",
	[MSG_CALLS_SAVED] = "chamadas poupadas",
	[MSG_OF] = "de",
	[MSG_CALLS_PER_ROW] = "chamadas (uma por linha)",
	[MSG_WARN_ROW_1] = "linha em que um estoque positivo publica 0",
	[MSG_WARN_ROW_N] = "linhas em que um estoque positivo publica 0",
	[MSG_LOG] = "log de integração",
	[MSG_LOG_ACCEPTS] = "em memória; o marketplace simulado aceita tudo",
	[MSG_LOG_LIMITED] = "em memória; o marketplace simulado acima",
	[MSG_CHANGES] = "alterações",
	[MSG_ATTEMPTS] = "tentativas",
	[MSG_SUCCESSES] = "sucessos",
	[MSG_CHANGE_1] = "alteração",
	[MSG_CHANGE_N] = "alterações",
	[MSG_ENTRIES] = "entradas",
	[MSG_LATENCY] = "latência",
	[MSG_MAX] = "máx.",
	[MSG_ABNORMAL] = "anormais",
	[MSG_LATER_THAN_HOUR] = "(depois de uma hora)",
	[MSG_LATER_THAN] = "depois de",
	[MSG_NONE_ACKED] = "nenhuma confirmada",
	[MSG_MARKET] = "marketplace",
	[MSG_RATE] = "limite",
	[MSG_OTHERS] = "demais",
	[MSG_NO_LIMIT] = "sem limite",
	[MSG_ANSWERS_IN] = "responde em",
	[MSG_LATE_AFTER] = "atraso após",
	[MSG_CALLS] = "chamadas de API",
	[MSG_BY_FILTER] = "pelo filtro",
	[MSG_BY_COALESCING] = "por agrupamento",
	[MSG_ZEROS] = "zeros publicados",
	[MSG_ZEROS_DETAIL] = "chamadas que publicam 0",
	[MSG_LATE] = "atualizações atrasadas",
	[MSG_OF_THEM_ZEROS] = "delas zeros",
	[MSG_DELAY] = "espera na fila",
	[MSG_MEAN] = "média",
	[MSG_FILTER_OFF] = "sem o filtro",
	[MSG_R_TITLE] = "relatório what-if do stockguard",
	[MSG_R_FEED] = "feed",
	[MSG_R_SPAN] = "período",
	[MSG_R_PER_HOUR] = "Exportações e ignoradas por hora, por motivo",
	[MSG_R_HOURS_PER_BAR] = "h por barra",
	[MSG_R_SAVED_TITLE] = "Chamadas de API poupadas",
	[MSG_R_STOCKOUTS_TITLE] = "Zeros publicados e avisos min_stock_reached ao longo do tempo",
	[MSG_R_BLOCKED] = "as vendas a descoberto que o mínimo bloqueou",
	[MSG_R_LATE_TITLE] = "Atualizações atrasadas sob o limite simulado do marketplace",
	[MSG_R_NO_MARKET] = "Nenhum limite de marketplace simulado: toda chamada é confirmada na hora (veja --rate e --latency).",
	[MSG_R_PER_INTEGRATION] = "Por integração",
	[MSG_R_TOP_SKUS] = "SKUs com mais exportações",
	[MSG_R_SWEEP_TITLE] = "Chamadas poupadas contra vendas a descoberto bloqueadas, um ponto por configuração",
	[MSG_R_SWEEP_TABLE] = "Uma execução por combinação",
	[MSG_R_HOUR] = "hora (UTC)",
	[MSG_R_SKU] = "SKU",
	[MSG_R_FILTER_ON] = "com filtro",
	[MSG_R_WARNINGS] = "avisos",
	[MSG_R_SHARE] = "parcela",
	[MSG_COL_FILTER_OFF] = "sem filtro",
	[MSG_WHATIF] = "what-if",
	[MSG_COALESCED_ROWS] = "alterações somadas a uma chamada na fila",
	[MSG_R_DELAY_TITLE] = "Maior espera na fila por hora (ms)",
};

static const char *const es[MSG_COUNT] = {
	[MSG_SUMMARY] = "resumen",
	[MSG_SETTINGS] = "configuración",
	[MSG_MODE] = "modo",
	[MSG_WINDOW] = "ventana",
	[MSG_CAP] = "tope",
	[MSG_NONE] = "ninguno",
	[MSG_MIN_STOCK] = "stock mínimo",
	[MSG_DEFAULT] = "(por defecto)",
	[MSG_NOT_IN_FEED] = "(no está en el feed)",
	[MSG_ROWS] = "filas",
	[MSG_INTEGRATION_1] = "integración",
	[MSG_INTEGRATION_N] = "integraciones",
	[MSG_PAIR_1] = "par integración/SKU",
	[MSG_PAIR_N] = "pares integración/SKU",
	[MSG_EXPORTS] = "exportaciones",
	[MSG_SKIPS] = "omitidas",
	[MSG_CALLS_SAVED] = "llamadas ahorradas",
	[MSG_OF] = "de",
	[MSG_CALLS_PER_ROW] = "llamadas (una por fila)",
	[MSG_WARN_ROW_1] = "fila en la que un stock positivo publica 0",
	[MSG_WARN_ROW_N] = "filas en las que un stock positivo publica 0",
	[MSG_LOG] = "log de integración",
	[MSG_LOG_ACCEPTS] = "en memoria; el marketplace simulado acepta todo",
	[MSG_LOG_LIMITED] = "en memoria; el marketplace simulado de arriba",
	[MSG_CHANGES] = "cambios",
	[MSG_ATTEMPTS] = "intentos",
	[MSG_SUCCESSES] = "éxitos",
	[MSG_CHANGE_1] = "cambio",
	[MSG_CHANGE_N] = "cambios",
	[MSG_ENTRIES] = "entradas",
	[MSG_LATENCY] = "latencia",
	[MSG_MAX] = "máx.",
	[MSG_ABNORMAL] = "anómalas",
	[MSG_LATER_THAN_HOUR] = "(después de una hora)",
	[MSG_LATER_THAN] = "después de",
	[MSG_NONE_ACKED] = "ninguna confirmada",
	[MSG_MARKET] = "marketplace",
	[MSG_RATE] = "límite",
	[MSG_OTHERS] = "demás",
	[MSG_NO_LIMIT] = "sin límite",
	[MSG_ANSWERS_IN] = "responde en",
	[MSG_LATE_AFTER] = "retraso después de",
	[MSG_CALLS] = "llamadas a la API",
	[MSG_BY_FILTER] = "por el filtro",
	[MSG_BY_COALESCING] = "por agrupación",
	[MSG_ZEROS] = "ceros publicados",
	[MSG_ZEROS_DETAIL] = "llamadas que publican 0",
	[MSG_LATE] = "actualizaciones tardías",
	[MSG_OF_THEM_ZEROS] = "de ellas ceros",
	[MSG_DELAY] = "espera en la cola",
	[MSG_MEAN] = "media",
	[MSG_FILTER_OFF] = "sin el filtro",
	[MSG_R_TITLE] = "informe what-if de stockguard",
	[MSG_R_FEED] = "feed",
	[MSG_R_SPAN] = "período",
	[MSG_R_PER_HOUR] = "Exportaciones y omitidas por hora, por motivo",
	[MSG_R_HOURS_PER_BAR] = "h por barra",
	[MSG_R_SAVED_TITLE] = "Llamadas a la API ahorradas",
	[MSG_R_STOCKOUTS_TITLE] = "Ceros publicados y avisos min_stock_reached a lo largo del tiempo",
	[MSG_R_BLOCKED] = "las sobreventas que el mínimo bloqueó",
	[MSG_R_LATE_TITLE] = "Actualizaciones tardías bajo el límite simulado del marketplace",
	[MSG_R_NO_MARKET] = "Ningún límite de marketplace simulado: cada llamada se confirma al instante (vea --rate y --latency).",
	[MSG_R_PER_INTEGRATION] = "Por integración",
	[MSG_R_TOP_SKUS] = "SKUs con más exportaciones",
	[MSG_R_SWEEP_TITLE] = "Llamadas ahorradas frente a sobreventas bloqueadas, un punto por configuración",
	[MSG_R_SWEEP_TABLE] = "Una ejecución por combinación",
	[MSG_R_HOUR] = "hora (UTC)",
	[MSG_R_SKU] = "SKU",
	[MSG_R_FILTER_ON] = "con filtro",
	[MSG_R_WARNINGS] = "avisos",
	[MSG_R_SHARE] = "proporción",
	[MSG_COL_FILTER_OFF] = "sin filtro",
	[MSG_WHATIF] = "what-if",
	[MSG_COALESCED_ROWS] = "cambios unidos a una llamada en cola",
	[MSG_R_DELAY_TITLE] = "Mayor espera en la cola por hora (ms)",
};

static const char *const *const tables[LANG_COUNT] = { en, pt, es };
static const char *const lang_names[LANG_COUNT] = { "en", "pt", "es" };

int lang_parse(const char *s)
{
	int i;

	for (i = 0; i < LANG_COUNT; i++)
		if (strcmp(s, lang_names[i]) == 0)
			return i;
	return -1;
}

int lang_from_env(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	size_t i;
	int l;

	for (i = 0; i < sizeof vars / sizeof *vars; i++) {
		const char *v = getenv(vars[i]);
		char two[3];
		if (!v || !*v)
			continue;
		/* "pt_BR.UTF-8", "es_ES@euro", "pt": the language is the first two letters. */
		if (strlen(v) < 2 || !strchr("_.@", v[2]))
			return LANG_EN;
		memcpy(two, v, 2);
		two[2] = '\0';
		l = lang_parse(two);
		return l < 0 ? LANG_EN : l;
	}
	return LANG_EN;
}

const char *msg(int lang, enum msg m)
{
	const char *s = tables[lang][m];

	return s ? s : en[m];
}

const char *i18n_missing(void)
{
	static char buf[32];
	int l, m;

	for (l = 0; l < LANG_COUNT; l++)
		for (m = 0; m < MSG_COUNT; m++)
			if (!tables[l][m]) {
				snprintf(buf, sizeof buf, "%s: message %d", lang_names[l], m);
				return buf;
			}
	return NULL;
}
