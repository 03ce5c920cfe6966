{{ tessera.stage_segment_events(source('web', 'web_events')) }}
