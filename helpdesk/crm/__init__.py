"""CRM sync: the built-in CRM (organizations and contacts kept here) and external CRMs
(Bitrix24, HubSpot) linked to requesters, shown beside tickets and told about them.

Nothing here runs inside ticket creation: every call to a CRM happens in an outbox handler
(helpdesk.crm.sync), and the ticket page renders from the cached snapshot.
"""
